/**
 * Spans of write-behind: the outbox append (embedded), the enqueue of a group-commit job (BullMQ,
 * whose own telemetry add-on `bullmq-otel` adds the producer and consumer spans and carries the trace
 * context in the job), and the insert of a job into the offline store. Attribute names follow the
 * OpenTelemetry messaging conventions where they apply.
 */
import { BullMQOtel } from 'bullmq-otel';
import { trace } from '@opentelemetry/api';

export const tracer = trace.getTracer('@tessera/writebehind');

/**
 * BullMQ's telemetry over the global OpenTelemetry API: `queue.add` makes a producer span and stores
 * the trace context in the job; the worker's `process` span continues it, so a job's insert is in
 * the trace of the Write that queued it. A no-op until the process starts an SDK.
 */
export function bullmqTelemetry(): BullMQOtel {
  return new BullMQOtel({ tracerName: '@tessera/writebehind' });
}
