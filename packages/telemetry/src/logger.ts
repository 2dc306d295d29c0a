import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Logger } from '@tessera/core';
import { pino, stdSerializers, type DestinationStream, type LevelWithSilent } from 'pino';

/** Levels a service may log at; `silent` turns logging off. */
export type LogLevel = LevelWithSilent;

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Lowest level written. Default `info`. */
  readonly level?: LogLevel;
  /** Bound to every line (`service: 'tessera-server'`). */
  readonly bindings?: Readonly<Record<string, unknown>>;
  /** Where JSON lines go: a file descriptor (1 stdout, 2 stderr) or a stream. Default 1. */
  readonly destination?: number | DestinationStream;
}

/**
 * trace_id and span_id of the active OpenTelemetry span, read through `@opentelemetry/api` alone:
 * no SDK patching, nothing when tracing is off (the API's no-op tracer has no active span).
 */
export function activeTraceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  // A fresh object each time: pino merges the line's fields into what the mixin returns.
  if (span === undefined) return {};
  const context = span.spanContext();
  return isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : {};
}

/**
 * A pino logger writing one JSON line per entry (ISO time, level as a word), carrying trace_id and
 * span_id whenever a span is active. Errors go under `err` and keep their type, message and stack.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination =
    typeof options.destination === 'object'
      ? options.destination
      : pino.destination({ fd: options.destination ?? 1, sync: true });
  return pino(
    {
      level: options.level ?? 'info',
      base: { ...options.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      mixin: activeTraceFields,
    },
    destination,
  );
}
