/** Opt-in tracing (`TESSERA_DEBUG=online`): off and free by default. */
export const DEBUG_ONLINE: boolean = (process.env['TESSERA_DEBUG'] ?? '').split(',').includes('online');

export function debugOnline(message: string): void {
  if (DEBUG_ONLINE) process.stderr.write(`[tessera:online] ${message}\n`);
}
