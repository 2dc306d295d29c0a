import { mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Ports are drawn from 11000–21999 so that a Redis cluster bus port (port + 10000) stays below 32768,
 * where Linux's ephemeral range starts: outgoing connections of other tests never take our ports
 * between the check and the bind.
 *
 * A port handed out stays *reserved* until {@link releasePorts}, across processes: every test file runs
 * in its own vitest fork and may start its own cluster. "Free right now" is not enough. A test that
 * kills a master leaves its port unbound for seconds while the master's replica keeps reconnecting to
 * that address; if another fork starts a redis-server there, the replica full-resyncs from the stranger
 * (flushing its own data) and may then win the failover with the stranger's data set. The reservation is
 * a listening Unix socket named after the port (in Linux's abstract namespace, so the kernel drops it when
 * the process dies, even by SIGKILL); binding it is the atomic test-and-set between processes.
 */
const MIN_PORT = 11_000;
const MAX_PORT = 22_000;
const MAX_ATTEMPTS = 500;
const LOOPBACK = '127.0.0.1';
const RESERVATION_PREFIX = 'tessera-test-port-';

/** Reservations this process holds, by port. */
const reservations = new Map<number, Server>();

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

/** Whether some process (this one included) holds the reservation of `port` taken by {@link findFreePorts}. */
export async function isPortReserved(port: number): Promise<boolean> {
  if (reservations.has(port)) return true;
  const server = await tryReserve(port);
  if (server === undefined) return true;
  await closeServer(server);
  return false;
}

/**
 * Finds `count` distinct ports that are free on loopback together with every `offsets` sibling, and
 * reserves them (siblings included) against every process using this module until {@link releasePorts}.
 * A process that does not use this module can still take a port before it is bound: callers retry on
 * "address already in use".
 */
export async function findFreePorts(count: number, options: FindFreePortsOptions = {}): Promise<number[]> {
  const offsets = options.offsets ?? [0];
  const host = options.host ?? LOOPBACK;
  const maxOffset = Math.max(...offsets);
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt >= MAX_ATTEMPTS) {
      releasePorts(ports, offsets);
      throw new Error(
        `No ${count} free loopback ports (with offsets ${offsets.join(', ')}) after ${MAX_ATTEMPTS} tries`,
      );
    }
    const port = MIN_PORT + Math.floor(Math.random() * (MAX_PORT - MIN_PORT));
    if (port + maxOffset > 65_535) continue;
    const siblings = offsets.map((offset) => port + offset);
    if (!(await reserveAll(siblings))) continue;
    // Reserved first, checked second: no other process using this module can pick these ports now.
    const free = await Promise.all(siblings.map((p) => isPortFree(p, host)));
    if (!free.every(Boolean)) {
      releasePorts(siblings);
      continue;
    }
    ports.push(port);
  }
  return ports;
}

/** Gives up the reservations of ports from {@link findFreePorts}, so any process may take them again. */
export function releasePorts(ports: readonly number[], offsets: readonly number[] = [0]): void {
  for (const port of ports) {
    for (const offset of offsets) {
      const server = reservations.get(port + offset);
      if (server === undefined) continue;
      reservations.delete(port + offset);
      void closeServer(server);
    }
  }
}

/** Reserves every port of `ports`, or none of them. */
async function reserveAll(ports: readonly number[]): Promise<boolean> {
  const taken: number[] = [];
  for (const port of ports) {
    if (reservations.has(port)) break;
    const server = await tryReserve(port);
    if (server === undefined) break;
    reservations.set(port, server);
    taken.push(port);
  }
  if (taken.length === ports.length) return true;
  releasePorts(taken);
  return false;
}

/** Binds the reservation socket of `port`; undefined when another holder has it. */
async function tryReserve(port: number): Promise<Server | undefined> {
  const path = reservationPath(port);
  const server = await listenOn(path);
  if (server !== undefined || process.platform === 'linux') return server;
  // Elsewhere the socket is a file, left behind by a process that died: take it over once nobody answers.
  if (await answers(path)) return undefined;
  try {
    unlinkSync(path);
  } catch {
    // another process removed it first
  }
  return listenOn(path);
}

function reservationPath(port: number): string {
  if (process.platform === 'linux') return `\0${RESERVATION_PREFIX}${port}`;
  const dir = join(tmpdir(), 'tessera-test-ports');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${port}.sock`);
}

function listenOn(path: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ path }, () => resolve(server));
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
