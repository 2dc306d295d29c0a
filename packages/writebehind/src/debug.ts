/** Opt-in tracing (`TESSERA_DEBUG=writebehind`): off and free by default. */
export const DEBUG_WRITE_BEHIND: boolean = (process.env['TESSERA_DEBUG'] ?? '').split(',').includes('writebehind');

export function debugWriteBehind(message: string): void {
  if (DEBUG_WRITE_BEHIND) process.stderr.write(`[tessera:writebehind] ${message}\n`);
}
