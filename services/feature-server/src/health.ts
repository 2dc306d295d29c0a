/**
 * What the standard `grpc.health.v1.Health` service reports, per component, so probes and
 * operators see the truth rather than a constant SERVING.
 *
 * Service names and what NOT_SERVING means:
 * - `liveness`: always SERVING while the process answers at all. A blocked event loop or a dead
 *   process shows as a failed call, not as a status: restart only then.
 * - `tessera.online`: the online store answers a ping within the check timeout.
 * - `tessera.offline`: the offline store answers `SELECT 1` within the check timeout (historical
 *   retrieval, sync writes and Materialize would fail). Absent when the deployment has none.
 * - `tessera.writebehind`: the write-behind queue answers (Writes would fail without it).
 * - `tessera.writebehind.drain`: the offline copy keeps up — no dead letters, and the oldest
 *   pending entry younger than `maxDrainLagMillis`. An alert, not a readiness input: Writes are still
 *   acknowledged durably while it is NOT_SERVING, so taking the server out of rotation would help no one.
 * - `readiness` and `''` (overall): online and write-behind are SERVING — every Write and online read
 *   would succeed. The offline store is not part of it: an offline outage fails training-set calls
 *   only, and must not take online serving out of rotation on every replica at once.
 * - `tessera.v1.FeatureStore` and `tessera.v1.Registry` follow readiness; `tessera.v1.Operations`
 *   follows `tessera.writebehind`.
 * During shutdown every name but `liveness` turns NOT_SERVING at once.
 */
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { stderrLogger, type Logger, type WriteBehindStats } from '@tessera/core';

/** Health service names. */
export const HEALTH_SERVICE = {
  liveness: 'liveness',
  readiness: 'readiness',
  overall: '',
  online: 'tessera.online',
  offline: 'tessera.offline',
  writeBehind: 'tessera.writebehind',
  drain: 'tessera.writebehind.drain',
  featureStore: 'tessera.v1.FeatureStore',
  registry: 'tessera.v1.Registry',
  operations: 'tessera.v1.Operations',
} as const;

/** The probes of the components; each rejects (or does not settle in time) when it is down. */
export interface HealthChecks {
  readonly online: () => Promise<void>;
  /** Absent when the deployment has no offline store. */
  readonly offline?: () => Promise<void>;
  readonly writeBehind: () => Promise<WriteBehindStats>;
}

export interface HealthOptions {
  /** How often the components are checked, ms. Default 2,000. */
  readonly intervalMillis?: number;
  /** How long one check may take before its component counts as down, ms. Default 1,000. */
  readonly timeoutMillis?: number;
  /** Oldest pending write-behind entry before `tessera.writebehind.drain` is NOT_SERVING, ms. Default 60,000. */
  readonly maxDrainLagMillis?: number;
  /**
   * Receives one line per status change: warn when a component goes NOT_SERVING (with why), info
   * when it recovers. Default: warnings and errors as JSON on stderr.
   */
  readonly logger?: Logger;
}

export const DEFAULT_HEALTH_INTERVAL_MILLIS = 2_000;
export const DEFAULT_HEALTH_TIMEOUT_MILLIS = 1_000;
export const DEFAULT_MAX_DRAIN_LAG_MILLIS = 60_000;

type Statuses = Record<string, ServingStatus>;

/** Names whose changes are logged: the components and readiness (the rest derive from them). */
const LOGGED: ReadonlySet<string> = new Set([
  HEALTH_SERVICE.readiness,
  HEALTH_SERVICE.online,
  HEALTH_SERVICE.offline,
  HEALTH_SERVICE.writeBehind,
  HEALTH_SERVICE.drain,
]);

/** The health service of one server, kept up to date by periodic checks. */
export class ServerHealth {
  readonly #implementation: HealthImplementation;
  readonly #checks: HealthChecks;
  readonly #intervalMillis: number;
  readonly #timeoutMillis: number;
  readonly #maxDrainLagMillis: number;
  readonly #logger: Logger;
  readonly #current: Statuses = {};
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** The first check has been published. */
  #settled = false;

  constructor(checks: HealthChecks, options: HealthOptions = {}) {
    this.#checks = checks;
    this.#intervalMillis = options.intervalMillis ?? DEFAULT_HEALTH_INTERVAL_MILLIS;
    this.#timeoutMillis = options.timeoutMillis ?? DEFAULT_HEALTH_TIMEOUT_MILLIS;
    this.#maxDrainLagMillis = options.maxDrainLagMillis ?? DEFAULT_MAX_DRAIN_LAG_MILLIS;
    this.#logger = (options.logger ?? stderrLogger()).child({ component: 'health' });
    // Nothing is known before the first check: not ready, but alive.
    const initial: Statuses = { [HEALTH_SERVICE.liveness]: 'SERVING' };
    for (const name of this.#names()) if (name !== HEALTH_SERVICE.liveness) initial[name] = 'NOT_SERVING';
    this.#implementation = new HealthImplementation(initial);
    Object.assign(this.#current, initial);
  }

  addToServer(server: Server): void {
    this.#implementation.addToServer(server);
  }

  /** Checks every component once and publishes the result. */
  check(): Promise<void> {
    this.#running ??= this.#checkOnce().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Checks now, then every interval (the timer does not keep the process alive). */
  async start(): Promise<void> {
    await this.check();
    if (this.#stopped) return;
    this.#timer = setInterval(() => void this.check(), this.#intervalMillis);
    this.#timer.unref();
  }

  /** Shutdown: every name but `liveness` NOT_SERVING from now on; checks stop. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    const statuses: Statuses = {};
    for (const name of this.#names()) statuses[name] = name === HEALTH_SERVICE.liveness ? 'SERVING' : 'NOT_SERVING';
    this.#publish(statuses, new Map(), false);
    this.#logger.info({}, 'health: every service NOT_SERVING but liveness: the server is shutting down');
  }

  async #checkOnce(): Promise<void> {
    const { online, offline, writeBehind } = this.#checks;
    const [onlineResult, offlineResult, queueResult] = await Promise.allSettled([
      this.#within('online store', online),
      offline === undefined ? Promise.resolve() : this.#within('offline store', offline),
      this.#within('write-behind queue', writeBehind),
    ]);
    if (this.#stopped) return;
    const reasons = new Map<string, string>();
    const status = (name: string, result: PromiseSettledResult<unknown>): ServingStatus => {
      if (result.status === 'fulfilled') return 'SERVING';
      reasons.set(name, reasonOf(result.reason));
      return 'NOT_SERVING';
    };
    const s: Statuses = { [HEALTH_SERVICE.liveness]: 'SERVING' };
    s[HEALTH_SERVICE.online] = status(HEALTH_SERVICE.online, onlineResult);
    if (offline !== undefined) s[HEALTH_SERVICE.offline] = status(HEALTH_SERVICE.offline, offlineResult);
    const queue = status(HEALTH_SERVICE.writeBehind, queueResult);
    s[HEALTH_SERVICE.writeBehind] = queue;
    s[HEALTH_SERVICE.drain] = this.#drainStatus(queueResult, reasons);
    const ready = s[HEALTH_SERVICE.online] === 'SERVING' && queue === 'SERVING';
    const readiness: ServingStatus = ready ? 'SERVING' : 'NOT_SERVING';
    if (!ready) {
      reasons.set(
        HEALTH_SERVICE.readiness,
        [HEALTH_SERVICE.online, HEALTH_SERVICE.writeBehind].filter((name) => s[name] !== 'SERVING').join(' and ') +
          ' not serving',
      );
    }
    s[HEALTH_SERVICE.readiness] = readiness;
    s[HEALTH_SERVICE.overall] = readiness;
    s[HEALTH_SERVICE.featureStore] = readiness;
    s[HEALTH_SERVICE.registry] = readiness;
    s[HEALTH_SERVICE.operations] = queue;
    this.#publish(s, reasons);
  }

  #drainStatus(queue: PromiseSettledResult<WriteBehindStats>, reasons: Map<string, string>): ServingStatus {
    if (queue.status === 'rejected') {
      reasons.set(HEALTH_SERVICE.drain, 'the write-behind queue does not answer');
      return 'NOT_SERVING';
    }
    const { deadLetters, oldestPendingMillis } = queue.value;
    if (deadLetters > 0) {
      reasons.set(HEALTH_SERVICE.drain, `${deadLetters} dead letters (tessera dlq ls)`);
      return 'NOT_SERVING';
    }
    if (oldestPendingMillis > this.#maxDrainLagMillis) {
      reasons.set(
        HEALTH_SERVICE.drain,
        `oldest pending offline rows are ${Math.round(oldestPendingMillis / 1000)} s old (limit ${Math.round(this.#maxDrainLagMillis / 1000)} s)`,
      );
      return 'NOT_SERVING';
    }
    return 'SERVING';
  }

  /** Sets every status, logging each change (with its reason when it is a failure). */
  #publish(statuses: Statuses, reasons: ReadonlyMap<string, string>, log = true): void {
    for (const [name, status] of Object.entries(statuses)) {
      const changed = this.#current[name] !== status;
      if (changed) {
        this.#current[name] = status;
        this.#implementation.setStatus(name, status);
      }
      // The first check reports what is down; after it, every change is news.
      const news = this.#settled ? changed : status === 'NOT_SERVING' && reasons.has(name);
      // The overall and per-API names only repeat readiness and the queue: not logged.
      if (!news || !log || !LOGGED.has(name)) continue;
      const reason = reasons.get(name);
      const fields = { health_service: name || '(overall)', status, ...(reason === undefined ? {} : { reason }) };
      const line = `health: ${name || '(overall)'} ${status}${reason === undefined ? '' : `: ${reason}`}`;
      if (status === 'NOT_SERVING') this.#logger.warn(fields, line);
      else this.#logger.info(fields, line);
    }
    this.#settled = true;
  }

  #names(): string[] {
    return Object.values(HEALTH_SERVICE).filter(
      (name) => name !== HEALTH_SERVICE.offline || this.#checks.offline !== undefined,
    );
  }

  /** `work`, or a rejection naming the component once the check timeout passes. */
  async #within<T>(component: string, probe: () => Promise<T>): Promise<T> {
    // A probe that throws at once counts as down, like one that rejects.
    const work = Promise.resolve().then(probe);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the ${component} did not answer within ${this.#timeoutMillis} ms`)),
        this.#timeoutMillis,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 200 ? `${message.slice(0, 200)}… (${message.length} chars)` : message;
}
