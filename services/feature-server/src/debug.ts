/**
 * Opt-in debug tracing by module: `TESSERA_DEBUG=online,server` (or `*`). Off and free by default:
 * callers check `debugEnabled(module)` before building expensive messages.
 */
const enabled = new Set(
  (process.env['TESSERA_DEBUG'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export function debugEnabled(module: string): boolean {
  return enabled.has('*') || enabled.has(module);
}

export function debug(module: string, ...args: unknown[]): void {
  if (debugEnabled(module)) console.error(`[tessera:${module}]`, ...args);
}
