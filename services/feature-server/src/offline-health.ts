/**
 * The health service of an offline server. Names: `liveness` (always SERVING while the process
 * answers), `tessera.offline` (chDB answers `SELECT 1` within the check timeout), and `readiness`,
 * `''` and `tessera.offline.v1.OfflineStore`, which follow it. During shutdown every name but
 * `liveness` turns NOT_SERVING at once.
 */
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from '@tessera/core';
import { DEFAULT_HEALTH_INTERVAL_MILLIS, DEFAULT_HEALTH_TIMEOUT_MILLIS } from './health.js';

/** Health service names of an offline server. */
export const OFFLINE_HEALTH_SERVICE = {
  liveness: 'liveness',
  readiness: 'readiness',
  overall: '',
  offline: 'tessera.offline',
  service: 'tessera.offline.v1.OfflineStore',
} as const;

/** The offline server's health, kept up to date by a periodic ping of its engine. */
export class OfflineServerHealth {
  readonly #implementation: HealthImplementation;
  readonly #ping: () => Promise<void>;
  readonly #intervalMillis: number;
  readonly #logger: Logger;
  #status: ServingStatus = 'NOT_SERVING';
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(ping: () => Promise<void>, logger: Logger, intervalMillis = DEFAULT_HEALTH_INTERVAL_MILLIS) {
    this.#ping = ping;
    this.#logger = logger.child({ component: 'health' });
    this.#intervalMillis = intervalMillis;
    this.#implementation = new HealthImplementation({
      [OFFLINE_HEALTH_SERVICE.liveness]: 'SERVING',
      ...this.#derived('NOT_SERVING'),
    });
  }

  addToServer(server: Server): void {
    this.#implementation.addToServer(server);
  }

  /** Checks now, then every interval (the timer does not keep the process alive). */
  async start(): Promise<void> {
    await this.#check();
    if (this.#stopped) return;
    this.#timer = setInterval(() => void this.#check(), this.#intervalMillis);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#set('NOT_SERVING');
  }

  async #check(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`chDB did not answer within ${DEFAULT_HEALTH_TIMEOUT_MILLIS} ms`)),
        DEFAULT_HEALTH_TIMEOUT_MILLIS,
      );
    });
    let next: ServingStatus = 'SERVING';
    let reason = '';
    try {
      await Promise.race([Promise.resolve().then(this.#ping), timeout]);
    } catch (error) {
      next = 'NOT_SERVING';
      reason = error instanceof Error ? error.message.slice(0, 200) : String(error);
    } finally {
      clearTimeout(timer);
    }
    if (this.#stopped || next === this.#status) return;
    if (next === 'NOT_SERVING') this.#logger.warn({ reason }, `health: tessera.offline NOT_SERVING: ${reason}`);
    else this.#logger.info({}, 'health: tessera.offline SERVING');
    this.#set(next);
  }

  #set(status: ServingStatus): void {
    this.#status = status;
    for (const [name, value] of Object.entries(this.#derived(status))) this.#implementation.setStatus(name, value);
  }

  #derived(status: ServingStatus): Record<string, ServingStatus> {
    return {
      [OFFLINE_HEALTH_SERVICE.readiness]: status,
      [OFFLINE_HEALTH_SERVICE.overall]: status,
      [OFFLINE_HEALTH_SERVICE.offline]: status,
      [OFFLINE_HEALTH_SERVICE.service]: status,
    };
  }
}
