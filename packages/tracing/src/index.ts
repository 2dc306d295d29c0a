/**
 * OpenTelemetry for Tessera's processes: the SDK, the OTLP exporter and the sampler, started once by
 * a process's entry point (`tessera serve`, `tessera writer`). Packages that make spans depend only
 * on `@opentelemetry/api`; with no SDK started, their spans are no-ops.
 */
export { startTracing, tracesUrl, type Tracing, type TracingOptions } from './start-tracing.js';
