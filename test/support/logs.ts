import type { LogFields, Logger } from '@tessera/core';

/** One line a {@link collectingLogger} received, bindings of its children merged in. */
export interface LoggedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: LogFields;
  readonly message: string;
}

/** A logger that keeps what it is given, for tests that assert what a component logged. */
export function collectingLogger(): { logger: Logger; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const make = (bindings: LogFields): Logger => {
    const at =
      (level: LoggedLine['level']) =>
      (fields: LogFields, message: string): void => {
        lines.push({ level, fields: { ...bindings, ...fields }, message });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return { logger: make({}), lines };
}
