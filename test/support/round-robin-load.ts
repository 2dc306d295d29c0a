import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { ClientUnaryCall, ServiceError } from '@grpc/grpc-js';
import type { TesseraClient } from '@tessera/client';
import { writeRequest, type LoadResult } from './write-load.js';

/** One Write of a tracked load: which server took it (the peer of its connection) and how it ended. */
export interface TrackedWrite {
  /** The write number (see write-load.ts). */
  readonly w: number;
  readonly call: ClientUnaryCall;
  /** `host:port` of the server the call went to, once it ended. */
  peer?: string;
  /** The gRPC status code it ended with (0 = OK). */
  code?: GrpcStatus;
  /** The status message of a failure. */
  details?: string;
}

/**
 * A write load through one client (typically round-robin over several servers) that remembers, for
 * every call, the server it went to and how it ended, and the calls in flight when the first one
 * failed: when a server dies, its connection's calls in flight fail together, and a client that
 * moves on to the other servers fails no call started after that.
 */
export class TrackedWriteLoad {
  readonly writes: TrackedWrite[] = [];
  readonly #inFlight = new Set<TrackedWrite>();
  #atFirstFailure: readonly { readonly write: TrackedWrite; readonly peer: string }[] | undefined;

  constructor(
    private readonly client: TesseraClient,
    readonly load: LoadResult,
    private readonly timeoutMillis = 20_000,
  ) {}

  /** The calls in flight (and the server each had been sent to) when the first call failed. */
  inFlightAtFirstFailure(): readonly { readonly write: TrackedWrite; readonly peer: string }[] | undefined {
    return this.#atFirstFailure;
  }

  /** The failed calls, as `write w on peer: CODE details` lines (for assertion messages). */
  describeFailures(): string[] {
    return this.failures().map((t) => `write ${t.w} on ${t.peer ?? '?'}: ${GrpcStatus[t.code!]} ${t.details ?? ''}`);
  }

  failures(): TrackedWrite[] {
    return this.writes.filter((t) => t.code !== undefined && t.code !== GrpcStatus.OK);
  }

  /** Successful calls, by server. */
  successesByPeer(from = 0): Map<string, number> {
    const counts = new Map<string, number>();
    for (const t of this.writes.slice(from)) {
      if (t.code === GrpcStatus.OK && t.peer !== undefined) counts.set(t.peer, (counts.get(t.peer) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Sends Writes numbered from `load.sent` with `concurrency` in flight until `until()` holds,
   * `maxWrites` were sent or `maxMillis` passed. Failures are recorded, never thrown.
   */
  async run(options: {
    concurrency: number;
    maxWrites: number;
    maxMillis: number;
    until?: () => boolean;
  }): Promise<void> {
    const deadline = Date.now() + options.maxMillis;
    const last = this.load.sent + options.maxWrites;
    const worker = async (): Promise<void> => {
      while (this.load.sent < last && Date.now() < deadline && !(options.until?.() ?? false)) {
        await this.#writeOne(this.load.sent++);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  }

  #writeOne(w: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const call = this.client.featureStore.write(
        writeRequest(w),
        new Metadata(),
        { deadline: Date.now() + this.timeoutMillis },
        (error: ServiceError | null) => {
          tracked.peer = call.getPeer();
          tracked.code = error ? error.code : GrpcStatus.OK;
          if (error) tracked.details = error.details;
          if (error) {
            // Taken before this call leaves the in-flight set: it was in flight too.
            this.#atFirstFailure ??= [...this.#inFlight].map((t) => ({ write: t, peer: t.call.getPeer() }));
            this.load.failed++;
            this.load.errors?.push(`write ${w}: ${GrpcStatus[error.code]} ${error.details}`);
          } else {
            this.load.acknowledged.push(w);
          }
          this.#inFlight.delete(tracked);
          resolve();
        },
      );
      const tracked: TrackedWrite = { w, call };
      this.writes.push(tracked);
      this.#inFlight.add(tracked);
    });
  }
}
