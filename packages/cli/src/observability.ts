/**
 * The configuration's `tracing`, `metrics` and `log` sections turned into what the services take:
 * tracing is started in the process before the service (its SDK loads only when it is on), logs are
 * pino JSON on stderr (stdout keeps the command's own lines), and `/metrics` gets a port of its own.
 */
import type { Command } from 'commander';
import type { Logger } from '@tessera/core';
import type { TesseraConfig } from '@tessera/config';
import { createLogger } from '@tessera/telemetry';

/** Running tracing, or nothing to stop. */
export interface StartedTracing {
  shutdown(): Promise<void>;
}

/** Starts tracing when `tracing.enabled`; the service name defaults to the process's role. */
export async function startConfiguredTracing(
  config: TesseraConfig,
  defaultServiceName: string,
): Promise<StartedTracing> {
  if (!config.tracing.enabled) return { shutdown: () => Promise.resolve() };
  const { startTracing } = await import('@tessera/tracing');
  return startTracing({
    serviceName: config.tracing.serviceName ?? defaultServiceName,
    otlpEndpoint: config.tracing.otlpEndpoint,
    sampleRatio: config.tracing.sampleRatio,
  });
}

/** The process's logger: JSON lines on stderr at `log.level`, tagged with the service. */
export function configuredLogger(config: TesseraConfig, service: string): Logger {
  return createLogger({ level: config.log.level, bindings: { service }, destination: 2 });
}

/** The `/metrics` endpoint when `metrics.enabled`, or when `--metrics-port` was typed. */
export function configuredMetrics(
  config: TesseraConfig,
  command: Command,
): { readonly host: string; readonly port: number } | undefined {
  const typed = command.getOptionValueSource('metricsPort') === 'cli';
  return config.metrics.enabled || typed ? { host: config.metrics.host, port: config.metrics.port } : undefined;
}
