/**
 * The logging port. Packages log background failures (an outbox drain, an insert, a registry
 * refresh) through it instead of throwing or printing; the services plug in a structured logger
 * (pino, from `@tessera/telemetry`). The argument order — fields first, then the message — is
 * pino's, so a pino logger is a `Logger` as it is.
 */

/** Context of a log line: view, attempt, error id... Values must be JSON-serializable (errors are serialized by the logger). */
export type LogFields = Readonly<Record<string, unknown>>;

/** One level: a line with context fields and a message. */
export type LogMethod = (fields: LogFields, message: string) => void;

/** A structured logger; `child` binds fields every line of the child carries (component, view...). */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  child(bindings: LogFields): Logger;
}

const nothing: LogMethod = () => undefined;

/** Drops every line: for tests and embedders who collect failures another way. */
export const silentLogger: Logger = {
  debug: nothing,
  info: nothing,
  warn: nothing,
  error: nothing,
  child: () => silentLogger,
};

/**
 * The default of a package used without a logger: warnings and errors as one JSON line each on
 * stderr, nothing below. A library must not stay silent about lost work, nor chat about the rest.
 */
export function stderrLogger(bindings: LogFields = {}): Logger {
  const line =
    (level: 'warn' | 'error'): LogMethod =>
    (fields, message) => {
      process.stderr.write(
        `${toJsonLine({ level, time: Date.now(), ...bindings, ...serializeErrors(fields), msg: message })}\n`,
      );
    };
  return {
    debug: nothing,
    info: nothing,
    warn: line('warn'),
    error: line('error'),
    child: (more) => stderrLogger({ ...bindings, ...more }),
  };
}

/** Errors serialize to `{}` in JSON: keep their type and message (and code) instead. */
function serializeErrors(fields: LogFields): LogFields {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) {
      out ??= { ...fields };
      out[key] = { type: value.name, message: value.message, ...('code' in value ? { code: value.code } : {}) };
    }
  }
  return out ?? fields;
}

/** One JSON line; a logger must never throw (bigints become strings, a cycle drops the fields). */
function toJsonLine(line: Record<string, unknown>): string {
  const replacer = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);
  try {
    return JSON.stringify(line, replacer);
  } catch {
    return JSON.stringify({ level: line['level'], time: line['time'], msg: line['msg'], fields: 'unserializable' });
  }
}
