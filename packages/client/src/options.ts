import type { ChannelCredentials } from '@grpc/grpc-js';
import type { JoinKeyValue } from '@tessera/core';
import type { Column } from '@tessera/proto';
import type { ClientTlsOptions } from './credentials.js';
import type { RetryPolicy } from './retry.js';
import type { TimeInput } from './write-batches.js';

/** How a client spreads its calls over the addresses its target resolves to (gRPC load-balancing policies). */
export type LoadBalancingPolicy = 'pick_first' | 'round_robin';

export interface TesseraClientOptions {
  /**
   * `host:port` of a feature server, or any gRPC target name: `dns:///tessera-headless.ns.svc:50051`
   * (every address the name resolves to, e.g. a headless Service's pods) or
   * `ipv4:10.0.0.1:50051,10.0.0.2:50051` (a fixed list). Use `loadBalancing: 'round_robin'` with
   * a name of several addresses.
   */
  readonly address: string;
  /**
   * `round_robin` keeps a connection to every address of `address` and sends each call to the next
   * ready one: calls spread over all servers (one long-lived HTTP/2 connection through a kube-proxy
   * Service would pin every call to one pod), and when a server dies only the calls in flight on its
   * connection fail, later calls go to the others. Default `pick_first`: one connection, to the first
   * address that answers.
   */
  readonly loadBalancing?: LoadBalancingPolicy;
  /** Default per-call deadline in ms. Default 30,000. */
  readonly timeoutMillis?: number;
  /** Channel credentials as grpc-js takes them; overrides `tls`. */
  readonly credentials?: ChannelCredentials;
  /** TLS to the server (PEM files); plaintext when absent. */
  readonly tls?: ClientTlsOptions;
  /** API key sent as `authorization: Bearer <key>` on every call (keep it out of argv and logs). */
  readonly apiKey?: string;
  /** Largest message accepted, bytes. Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * Retries on UNAVAILABLE (and on no other status), within the call's one deadline: reads, and
   * writes that carry an idempotency key (a write without one is never repeated). Default 4 attempts,
   * backoff from 50 ms doubling to 2 s, with jitter. `{ maxAttempts: 1 }` turns retries off.
   */
  readonly retry?: Partial<RetryPolicy>;
}

/** Options of one call. */
export interface CallOptions {
  /** Deadline of the call, retries included, ms from now; the client's `timeoutMillis` when absent. */
  readonly timeoutMillis?: number;
}

/** Where a write goes: both stores (the default), or only one. */
export type WriteTargetName = 'online_and_offline' | 'online' | 'offline';
/** When a write is acknowledged: `write_behind` (default), `sync` (offline written first), `replicated` (online copy on a replica). */
export type DurabilityName = 'write_behind' | 'sync' | 'replicated';

/** Options of {@link TesseraClient.write} with rows or columns. */
export interface WriteOptions extends CallOptions {
  readonly target?: WriteTargetName;
  readonly durability?: DurabilityName;
  /**
   * Makes the write safe to repeat: the server answers a repeated key with the first result and
   * writes nothing again, so the client retries such a write on UNAVAILABLE. With several batches,
   * batch i carries `<key>#<i>` (batch 0 the key itself).
   */
  readonly idempotencyKey?: string;
  /** Rows per Write message. Default 5,000 (the server refuses more than limits.maxBatchRows, 10,000 by default). */
  readonly batchRows?: number;
  /** The field of each row holding its event time (rows form). Default `event_timestamp`. */
  readonly eventTimestampField?: string;
}

/** Entity rows of a training set: join key columns, one event time per row, and optional label columns. */
export interface HistoricalEntityRows {
  /** Join key → one value per row (bigint/number for int64 keys, string for string keys). */
  readonly keys: Readonly<Record<string, readonly (JoinKeyValue | number)[]>>;
  /** The moment each row asks about. */
  readonly eventTimestamps: readonly TimeInput[];
  /** Extra columns (labels) passed through unchanged. */
  readonly passthrough?: Readonly<Record<string, Column>>;
}

/** Features of a request: refs (`view:feature`, `view:*`, `view@2:feature`) or a feature service. */
export type FeatureSelection = readonly string[] | { readonly featureService: string };
