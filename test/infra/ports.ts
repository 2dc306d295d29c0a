import { createServer } from 'node:net';

/**
 * Ports are drawn from 11000–21999 so that a Redis cluster bus port (port + 10000) stays below 32768,
 * where Linux's ephemeral range starts: outgoing connections of other tests never take our ports
 * between the check and the bind.
 */
const MIN_PORT = 11_000;
const MAX_PORT = 22_000;
const MAX_ATTEMPTS = 500;
const LOOPBACK = '127.0.0.1';

/** Ports handed out by this process, so two clusters started at once in one worker never collide. */
const handedOut = new Set<number>();

/** Options of {@link findFreePorts}. */
export interface FindFreePortsOptions {
  /**
   * Offsets from each port that must be free as well, e.g. `[0, 10000]` for Redis Cluster, whose bus
   * listens on port + 10000. Default `[0]`.
   */
  readonly offsets?: readonly number[];
  /** Interface to test, default `127.0.0.1`. */
  readonly host?: string;
}

/** Whether nothing listens on `host:port` right now (it can be bound exclusively). */
export function isPortFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Finds `count` distinct ports that are free on loopback together with every `offsets` sibling. Another
 * process can still take a port before it is bound: callers retry on "address already in use".
 */
export async function findFreePorts(count: number, options: FindFreePortsOptions = {}): Promise<number[]> {
  const offsets = options.offsets ?? [0];
  const host = options.host ?? LOOPBACK;
  const maxOffset = Math.max(...offsets);
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt >= MAX_ATTEMPTS) {
      throw new Error(
        `No ${count} free loopback ports (with offsets ${offsets.join(', ')}) after ${MAX_ATTEMPTS} tries`,
      );
    }
    const port = MIN_PORT + Math.floor(Math.random() * (MAX_PORT - MIN_PORT));
    if (port + maxOffset > 65_535) continue;
    const siblings = offsets.map((offset) => port + offset);
    if (siblings.some((p) => handedOut.has(p))) continue;
    const free = await Promise.all(siblings.map((p) => isPortFree(p, host)));
    if (!free.every(Boolean)) continue;
    for (const p of siblings) handedOut.add(p);
    ports.push(port);
  }
  return ports;
}

/** Lets a port from {@link findFreePorts} be handed out again by this process. */
export function releasePorts(ports: readonly number[], offsets: readonly number[] = [0]): void {
  for (const port of ports) for (const offset of offsets) handedOut.delete(port + offset);
}
