import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { TesseraError, quoteInput } from '@tessera/core';

/** Settings of {@link startTracing}; the `tracing` section of the deployment configuration. */
export interface TracingOptions {
  /** `service.name` of every span this process exports, e.g. `tessera-server` or `tessera-writer`. */
  readonly serviceName: string;
  /**
   * OTLP over HTTP (protobuf) endpoint of a collector or of Jaeger. A base URL such as
   * `http://127.0.0.1:4318` gets the standard `/v1/traces` path; a URL with a path is used as is.
   */
  readonly otlpEndpoint: string;
  /**
   * Share of new traces recorded, 0 to 1. A call that arrives with a sampled W3C `traceparent`
   * follows its caller's decision instead (parent-based), so a trace is never cut in half.
   */
  readonly sampleRatio: number;
  /** `service.version` of the spans. Optional. */
  readonly serviceVersion?: string;
}

/** Tracing of this process, started by its entry point. */
export interface Tracing {
  /** Exports the spans still buffered, then unregisters the SDK (the API goes back to no-op). */
  shutdown(): Promise<void>;
}

/** How long a shutdown waits for the last spans to reach the collector, ms. */
const SHUTDOWN_FLUSH_TIMEOUT_MILLIS = 5_000;
/** Largest batch of spans per export request; spans beyond the queue are dropped, never blocking a call. */
const MAX_EXPORT_BATCH_SIZE = 512;
const MAX_QUEUE_SIZE = 4_096;
/** How often buffered spans are exported, ms. */
const SCHEDULED_DELAY_MILLIS = 1_000;

/** Whether this module's SDK is registered (one per process: the API holds one global of each kind). */
let started = false;

/**
 * Registers the OpenTelemetry SDK as the process's global tracer provider: spans are batched and
 * exported over OTLP/HTTP, sampled parent-based with `sampleRatio` for new traces, with the W3C
 * trace context propagator and an AsyncLocalStorage context manager. Packages only use
 * `@opentelemetry/api`: without this call every span is a no-op and costs next to nothing.
 * Throws INVALID_ARGUMENT naming the setting when an option is wrong.
 */
export function startTracing(options: TracingOptions): Tracing {
  const url = tracesUrl(options.otlpEndpoint);
  checkOptions(options);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.serviceVersion === undefined ? {} : { [ATTR_SERVICE_VERSION]: options.serviceVersion }),
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url }),
        maxExportBatchSize: MAX_EXPORT_BATCH_SIZE,
        maxQueueSize: MAX_QUEUE_SIZE,
        scheduledDelayMillis: SCHEDULED_DELAY_MILLIS,
      }),
    ],
  });
  if (started) throw new TesseraError('FAILED_PRECONDITION', 'tracing is already started in this process');
  const contextManager = new AsyncLocalStorageContextManager().enable();
  // The API keeps the first registration of each global: another library's stays, and ours is undone.
  const undo: (() => void)[] = [];
  const register = (done: boolean, disable: () => void): boolean => (done && undo.push(disable), done);
  const registered =
    register(trace.setGlobalTracerProvider(provider), () => trace.disable()) &&
    register(context.setGlobalContextManager(contextManager), () => context.disable()) &&
    register(propagation.setGlobalPropagator(new W3CTraceContextPropagator()), () => propagation.disable());
  if (!registered) {
    for (const disable of undo) disable();
    contextManager.disable();
    throw new TesseraError('FAILED_PRECONDITION', 'another OpenTelemetry SDK is already registered in this process');
  }
  started = true;
  let stopped: Promise<void> | undefined;
  return {
    shutdown: () =>
      (stopped ??= (async () => {
        try {
          await withTimeout(provider.forceFlush(), SHUTDOWN_FLUSH_TIMEOUT_MILLIS);
          await provider.shutdown();
        } finally {
          for (const disable of undo) disable();
          contextManager.disable();
          started = false;
        }
      })()),
  };
}

/** The OTLP/HTTP traces URL of `endpoint`; INVALID_ARGUMENT when it is not an http(s) URL. */
export function tracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `tracing.otlpEndpoint ${quoteInput(endpoint)} is not a URL (expected e.g. http://127.0.0.1:4318)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `tracing.otlpEndpoint ${quoteInput(endpoint)} must be http:// or https:// (OTLP over HTTP)`,
    );
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

function checkOptions(options: TracingOptions): void {
  const { sampleRatio, serviceName } = options;
  if (typeof sampleRatio !== 'number' || !Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `tracing.sampleRatio ${quoteInput(String(sampleRatio))} must be a number from 0 to 1`,
    );
  }
  if (typeof serviceName !== 'string' || serviceName.trim() === '') {
    throw new TesseraError('INVALID_ARGUMENT', 'tracing.serviceName must not be empty');
  }
}

async function withTimeout(work: Promise<void>, millis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, millis)))]);
  } finally {
    clearTimeout(timer);
  }
}
