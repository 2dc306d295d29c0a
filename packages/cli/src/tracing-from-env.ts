/**
 * TEMPORARY wiring of tracing for `tessera serve` and `tessera writer` until the configuration
 * schema's `tracing` section lands (the lead moves this there at merge). Environment:
 * `TESSERA_TRACING_OTLP_ENDPOINT` turns tracing on (OTLP/HTTP, e.g. http://127.0.0.1:4318),
 * `TESSERA_TRACING_SAMPLE_RATIO` (0–1, default 1) and `TESSERA_TRACING_SERVICE_NAME`.
 */
import { TesseraError, quoteInput } from '@tessera/core';

/** Running tracing, or nothing to stop. */
export interface StartedTracing {
  shutdown(): Promise<void>;
}

/** Starts tracing when `TESSERA_TRACING_OTLP_ENDPOINT` is set; the SDK loads only then. */
export async function startTracingFromEnv(
  defaultServiceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StartedTracing> {
  const endpoint = env['TESSERA_TRACING_OTLP_ENDPOINT'];
  if (endpoint === undefined || endpoint.trim() === '') return { shutdown: () => Promise.resolve() };
  const ratioText = env['TESSERA_TRACING_SAMPLE_RATIO'] ?? '1';
  const sampleRatio = Number(ratioText);
  if (ratioText.trim() === '' || !Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `TESSERA_TRACING_SAMPLE_RATIO ${quoteInput(ratioText)} must be a number from 0 to 1`,
    );
  }
  const { startTracing } = await import('@tessera/tracing');
  return startTracing({
    serviceName: env['TESSERA_TRACING_SERVICE_NAME'] ?? defaultServiceName,
    otlpEndpoint: endpoint,
    sampleRatio,
  });
}
