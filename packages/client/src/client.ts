import { Metadata } from '@grpc/grpc-js';
import type { CallOptions as GrpcCallOptions, ChannelCredentials, ClientOptions, ServiceError } from '@grpc/grpc-js';
import type { Definitions, FeatureValue, JoinKeyValue, Scope, ValueType } from '@tessera/core';
import { traceContextInterceptor } from './trace-context.js';
import {
  Durability,
  FeatureStatus,
  HistoricalFormat,
  FeatureStoreClient,
  OperationsClient,
  RegistryClient,
  WriteTarget,
} from '@tessera/proto';
import type {
  DeadLetter,
  EntityRows,
  MaterializeProgress,
  ListDeadLettersResponse,
  WriteBehindStats,
  ApiKey,
  CreateApiKeyResponse,
  ListApiKeysResponse,
  ApplyResponse,
  Column,
  GetHistoricalRequest,
  GetHistoricalResponse,
  GetOnlineFeaturesResponse,
  GetResponse,
  HistoryResponse,
  ListResponse,
  WriteRequest,
  WriteResponse,
} from '@tessera/proto';
import {
  columnValueType,
  fromColumn,
  fromProtoValueType,
  toColumn,
  toProtoDefinitions,
  toProtoScope,
} from '@tessera/wire';
import { tableFromIPC, Table } from 'apache-arrow';
import type { RecordBatch } from 'apache-arrow';
import { apiKeyInterceptor, channelCredentials, type ClientTlsOptions } from './credentials.js';
import { DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from './retry.js';
import { fromServiceError, isServiceError, TesseraClientError, unary } from './service-error.js';
import {
  DEFAULT_WRITE_BATCH_ROWS,
  toEpochMillis,
  toWriteBatches,
  type TimeInput,
  type WriteColumns,
  type WriteRow,
} from './write-batches.js';

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

const TARGETS: Record<WriteTargetName, WriteTarget> = {
  online_and_offline: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
  online: WriteTarget.WRITE_TARGET_ONLINE,
  offline: WriteTarget.WRITE_TARGET_OFFLINE,
};
const DURABILITIES: Record<DurabilityName, Durability> = {
  write_behind: Durability.DURABILITY_WRITE_BEHIND,
  sync: Durability.DURABILITY_SYNC,
  replicated: Durability.DURABILITY_REPLICATED,
};

/** Status of one feature value for one entity. */
export type FeatureStatusName = 'PRESENT' | 'NOT_FOUND' | 'EXPIRED';

/** Online features, by entity row: what `tessera get` prints. */
export interface OnlineFeatures {
  /** Resolved refs (`view@version:feature`), in request order. */
  readonly refs: readonly string[];
  readonly types: readonly ValueType[];
  /** values[f][i]: feature f of entity i. */
  readonly values: readonly FeatureValue[][];
  readonly statuses: readonly FeatureStatusName[][];
  /** Event timestamps (ms) when asked; 0 when not present. */
  readonly eventTimestamps?: readonly number[][];
}

const STATUS_NAMES: Record<number, FeatureStatusName> = {
  [FeatureStatus.FEATURE_STATUS_PRESENT]: 'PRESENT',
  [FeatureStatus.FEATURE_STATUS_NOT_FOUND]: 'NOT_FOUND',
  [FeatureStatus.FEATURE_STATUS_EXPIRED]: 'EXPIRED',
};

/** One entity's features by resolved ref: each value with its status (and event time when asked). */
export type OnlineFeatureRow = Record<
  string,
  { value: FeatureValue; status: FeatureStatusName; eventTimestamp?: number }
>;

/** The answer of `getOnlineFeatures` as one object per entity, in request order. */
export function onlineFeatureRows(features: OnlineFeatures): OnlineFeatureRow[] {
  const count = features.statuses[0]?.length ?? 0;
  const rows: OnlineFeatureRow[] = [];
  for (let i = 0; i < count; i++) {
    const row: OnlineFeatureRow = {};
    features.refs.forEach((ref, f) => {
      const eventTimestamp = features.eventTimestamps?.[f]?.[i];
      row[ref] = {
        value: features.values[f]?.[i] ?? null,
        status: features.statuses[f]?.[i] ?? 'NOT_FOUND',
        ...(eventTimestamp === undefined ? {} : { eventTimestamp }),
      };
    });
    rows.push(row);
  }
  return rows;
}

/** The TypeScript client of a Tessera feature server (FeatureStore and Registry services). */
export class TesseraClient {
  readonly featureStore: FeatureStoreClient;
  readonly registry: RegistryClient;
  readonly operations: OperationsClient;
  private readonly timeoutMillis: number;
  private readonly retryPolicy: RetryPolicy;

  constructor(options: TesseraClientOptions) {
    const creds = options.credentials ?? channelCredentials(options.tls);
    const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    const clientOptions: Partial<ClientOptions> = {
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': maxBytes,
      ...(options.loadBalancing === undefined
        ? {}
        : { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [options.loadBalancing]: {} }] }) }),
      interceptors: [
        traceContextInterceptor(),
        ...(options.apiKey === undefined ? [] : [apiKeyInterceptor(options.apiKey)]),
      ],
    };
    this.featureStore = new FeatureStoreClient(options.address, creds, clientOptions);
    this.registry = new RegistryClient(options.address, creds, clientOptions);
    this.operations = new OperationsClient(options.address, creds, clientOptions);
    this.timeoutMillis = options.timeoutMillis ?? 30_000;
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  private options(): Partial<GrpcCallOptions> {
    return { deadline: Date.now() + this.timeoutMillis };
  }

  /**
   * One unary call under one deadline (retries included). `retry`: the call is safe to repeat, so an
   * UNAVAILABLE answer is retried with backoff while attempts and deadline allow.
   */
  private call<T>(
    retry: boolean,
    options: CallOptions,
    start: (callOptions: Partial<GrpcCallOptions>, cb: (error: ServiceError | null, response?: T) => void) => unknown,
  ): Promise<T> {
    const deadlineMillis = Date.now() + (options.timeoutMillis ?? this.timeoutMillis);
    const once = (deadline: Date): Promise<T> => unary<T>((cb) => start({ deadline }, cb));
    return retry ? withRetry(this.retryPolicy, deadlineMillis, once) : once(new Date(deadlineMillis));
  }

  /** Applies definitions (or with dryRun only computes the diff). */
  apply(
    definitions: Definitions,
    options: { dryRun?: boolean; author?: string; prune?: boolean } = {},
  ): Promise<ApplyResponse> {
    return unary((cb) =>
      this.registry.apply(
        {
          definitions: toProtoDefinitions(definitions),
          dryRun: options.dryRun ?? false,
          author: options.author ?? '',
          prune: options.prune ?? false,
        },
        new Metadata(),
        this.options(),
        cb,
      ),
    );
  }

  list(options: CallOptions = {}): Promise<ListResponse> {
    return this.call(true, options, (o, cb) => this.registry.list({}, new Metadata(), o, cb));
  }

  get(
    objectType: 'entity' | 'feature_view' | 'feature_service' | 'entity_source',
    name: string,
    options: CallOptions = {},
  ): Promise<GetResponse> {
    return this.call(true, options, (o, cb) => this.registry.get({ objectType, name }, new Metadata(), o, cb));
  }

  history(featureView: string, options: CallOptions = {}): Promise<HistoryResponse> {
    return this.call(true, options, (o, cb) => this.registry.history({ featureView }, new Metadata(), o, cb));
  }

  /** Raw columnar GetOnlineFeatures (retried on UNAVAILABLE). */
  getOnlineFeaturesRaw(
    request: {
      features?: readonly string[];
      featureService?: string;
      entities: Record<string, Column>;
      includeEventTimestamps?: boolean;
    },
    options: CallOptions = {},
  ): Promise<GetOnlineFeaturesResponse> {
    const message = {
      features: [...(request.features ?? [])],
      featureService: request.featureService ?? '',
      entities: request.entities,
      includeEventTimestamps: request.includeEventTimestamps ?? false,
    };
    return this.call(true, options, (o, cb) => this.featureStore.getOnlineFeatures(message, new Metadata(), o, cb));
  }

  /**
   * Latest feature values of `refs` (or a feature service) for entities given as join key → values
   * (bigint/number for int64 keys, string for string keys), with a status per value: PRESENT,
   * NOT_FOUND (no row) or EXPIRED (older than the view's TTL; the value is null).
   * `onlineFeatureRows(result)` turns the answer into one object per entity.
   */
  getOnlineFeatures(
    refs: FeatureSelection,
    entities: Readonly<Record<string, readonly (JoinKeyValue | number)[]>>,
    options?: CallOptions & { includeEventTimestamps?: boolean },
  ): Promise<OnlineFeatures>;
  /** The same, as one request object. */
  getOnlineFeatures(request: {
    features?: readonly string[];
    featureService?: string;
    entities: Readonly<Record<string, readonly (JoinKeyValue | number)[]>>;
    includeEventTimestamps?: boolean;
  }): Promise<OnlineFeatures>;
  async getOnlineFeatures(
    first:
      | FeatureSelection
      | {
          features?: readonly string[];
          featureService?: string;
          entities: Readonly<Record<string, readonly (JoinKeyValue | number)[]>>;
          includeEventTimestamps?: boolean;
        },
    entitiesArg?: Readonly<Record<string, readonly (JoinKeyValue | number)[]>>,
    options: CallOptions & { includeEventTimestamps?: boolean } = {},
  ): Promise<OnlineFeatures> {
    const request =
      entitiesArg === undefined && !Array.isArray(first) && 'entities' in first
        ? first
        : {
            ...(Array.isArray(first)
              ? { features: first as readonly string[] }
              : { featureService: (first as { featureService: string }).featureService }),
            entities: entitiesArg ?? {},
            includeEventTimestamps: options.includeEventTimestamps ?? false,
          };
    const entities: Record<string, Column> = {};
    for (const [name, values] of Object.entries(request.entities)) {
      const allStrings = values.every((v) => typeof v === 'string');
      entities[name] = allStrings
        ? toColumn('string', values)
        : toColumn(
            'int64',
            values.map((v) => BigInt(v)),
          );
    }
    const response = await this.getOnlineFeaturesRaw({ ...request, entities }, options);
    return {
      refs: response.features.map((f) => f.ref),
      types: response.features.map(
        (f) => fromProtoValueType(f.type) ?? (f.values ? columnValueType(f.values) : undefined) ?? 'string',
      ),
      values: response.features.map((f) => (f.values ? fromColumn(f.values) : [])),
      statuses: response.features.map((f) => f.statuses.map((s) => STATUS_NAMES[s] ?? 'NOT_FOUND')),
      ...(request.includeEventTimestamps
        ? { eventTimestamps: response.features.map((f) => f.eventTimestamps.map(Number)) }
        : {}),
    };
  }

  /**
   * Streams a training set chunk by chunk (GetHistorical). The stream ends with an error, never
   * short, when the server fails midway. An UNAVAILABLE failure before the first chunk is retried
   * (nothing was received yet); after it, never.
   */
  async *getHistorical(
    request: GetHistoricalRequest,
    options: { timeoutMillis?: number } = {},
  ): AsyncGenerator<GetHistoricalResponse> {
    const deadlineMillis = Date.now() + (options.timeoutMillis ?? this.timeoutMillis * 20);
    const first = await withRetry(this.retryPolicy, deadlineMillis, async (deadline) => {
      const stream = this.featureStore.getHistorical(request, new Metadata(), { deadline });
      const iterator = (stream as AsyncIterable<GetHistoricalResponse>)[Symbol.asyncIterator]();
      try {
        return { stream, iterator, chunk: await iterator.next() };
      } catch (error) {
        stream.cancel();
        throw isServiceError(error) ? fromServiceError(error) : error;
      }
    });
    const { stream, iterator } = first;
    try {
      // Bounded by the stream: it ends, fails, or passes its deadline.
      for (let next = first.chunk; next.done !== true; next = await iterator.next()) yield next.value;
    } catch (error) {
      throw isServiceError(error) ? fromServiceError(error) : error;
    } finally {
      stream.cancel();
    }
  }

  /**
   * A point-in-time correct training set as one Arrow table: the entity rows' columns, then one
   * `<view>__<feature>` column per feature (null where no value was known at the row's time).
   */
  async getHistoricalFeatures(
    entityRows: HistoricalEntityRows,
    refs: FeatureSelection,
    options: { timeoutMillis?: number; chunkRows?: number } = {},
  ): Promise<Table> {
    const rows: EntityRows = {
      keys: Object.fromEntries(
        Object.entries(entityRows.keys).map(([name, values]): [string, Column] => [
          name,
          values.every((v) => typeof v === 'string')
            ? toColumn('string', values)
            : toColumn(
                'int64',
                values.map((v) => BigInt(v)),
              ),
        ]),
      ),
      eventTimestamps: entityRows.eventTimestamps.map((t, i) =>
        BigInt(toEpochMillis(t, `entity row ${i}, event time`)),
      ),
      passthrough: { ...entityRows.passthrough },
    };
    const batches: RecordBatch[] = [];
    let schema: Table['schema'] | undefined;
    for await (const chunk of this.getHistorical(
      {
        entities: { $case: 'rows', value: rows },
        features: Array.isArray(refs) ? [...(refs as readonly string[])] : [],
        featureService: Array.isArray(refs) ? '' : (refs as { featureService: string }).featureService,
        format: HistoricalFormat.HISTORICAL_FORMAT_ARROW,
        chunkRows: options.chunkRows ?? 0,
      },
      options,
    )) {
      const table = tableFromIPC(chunk.arrowIpc);
      schema ??= table.schema;
      batches.push(...table.batches);
    }
    return batches.length > 0 ? new Table(batches) : new Table(schema ?? new Table().schema);
  }

  /**
   * Writes rows (objects with join keys, features and an `event_timestamp`) or columns to `view`,
   * typed by the view's definition and split into batches of `batchRows`. Resolves with the totals.
   * Retried on UNAVAILABLE only when `idempotencyKey` is given.
   */
  write(view: string, data: readonly WriteRow[] | WriteColumns, options?: WriteOptions): Promise<WriteResponse>;
  /** Writes one columnar batch as the proto message; the server's default target is online and offline. */
  write(request: Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>): Promise<WriteResponse>;
  async write(
    first: string | (Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>),
    data?: readonly WriteRow[] | WriteColumns,
    options: WriteOptions = {},
  ): Promise<WriteResponse> {
    if (typeof first !== 'string') return this.writeRequest(withWriteDefaults(first), {});
    const { types, joinKeys } = await this.viewColumnTypes(first, options);
    const batches = toWriteBatches(first, types, joinKeys, data ?? [], {
      batchRows: options.batchRows ?? DEFAULT_WRITE_BATCH_ROWS,
      eventTimestampField: options.eventTimestampField ?? 'event_timestamp',
    });
    const total = { rows: 0n, rowsAppliedOnline: 0n, rowsStaleOnline: 0n };
    for (const [i, batch] of batches.entries()) {
      const key = options.idempotencyKey ?? '';
      const response = await this.writeRequest(
        {
          featureView: first,
          columns: batch.columns,
          eventTimestamps: batch.eventTimestamps,
          target: options.target === undefined ? WriteTarget.WRITE_TARGET_UNSPECIFIED : TARGETS[options.target],
          durability:
            options.durability === undefined ? Durability.DURABILITY_UNSPECIFIED : DURABILITIES[options.durability],
          idempotencyKey: key === '' || i === 0 ? key : `${key}#${i}`,
        },
        options,
      );
      total.rows += response.rows;
      total.rowsAppliedOnline += response.rowsAppliedOnline;
      total.rowsStaleOnline += response.rowsStaleOnline;
    }
    return total;
  }

  private writeRequest(request: WriteRequest, options: CallOptions): Promise<WriteResponse> {
    return this.call(request.idempotencyKey !== '', options, (o, cb) =>
      this.featureStore.write(request, new Metadata(), o, cb),
    );
  }

  /** The type of every join key and feature of a view (`name` or `name@version`), from the registry. */
  private async viewColumnTypes(
    view: string,
    options: CallOptions,
  ): Promise<{ types: Map<string, ValueType>; joinKeys: string[] }> {
    const response = await this.get('feature_view', view, options);
    if (response.object?.$case !== 'featureView') {
      throw new TesseraClientError('NOT_FOUND', `Unknown feature view "${view}"`, { grpcCode: 5 });
    }
    const definition = response.object.value;
    const types = new Map<string, ValueType>();
    for (const key of definition.joinKeys) types.set(key.name, fromProtoValueType(key.type) ?? 'string');
    for (const feature of definition.features) types.set(feature.name, fromProtoValueType(feature.type) ?? 'string');
    return { types, joinKeys: definition.joinKeys.map((k) => k.name) };
  }

  /**
   * Streams many batches (bulk ingest); resolves with the totals. Honours the stream's
   * backpressure: each batch is written only when the channel accepts more.
   */
  async writeStream(
    batches:
      | AsyncIterable<Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>>
      | Iterable<Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>>,
  ): Promise<WriteResponse> {
    let stream: ReturnType<FeatureStoreClient['writeStream']> | undefined;
    const result = new Promise<WriteResponse>((resolve, reject) => {
      stream = this.featureStore.writeStream(
        new Metadata(),
        { deadline: Date.now() + this.timeoutMillis * 20 },
        (error, response) => (error ? reject(fromServiceError(error)) : resolve(response)),
      );
    });
    const s = stream!;
    // The call can fail while batches are still being produced: stop sending then, and let the
    // caller see that failure from the returned promise (never as an unhandled rejection).
    let ended = false;
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    void settled.then(() => (ended = true));
    try {
      for await (const batch of batches) {
        if (ended) break;
        if (!s.write(withWriteDefaults(batch))) {
          await Promise.race([new Promise<void>((resolve) => s.once('drain', resolve)), settled]);
        }
      }
    } finally {
      s.end();
    }
    return result;
  }

  /**
   * Copies the latest offline values of `featureViews` in a time range (or, incremental, since the
   * last run) to the online store; `onProgress` sees every progress message. Resolves with the final
   * message of each view.
   */
  async materialize(
    request: { featureViews: readonly string[]; startMillis?: number; endMillis?: number; incremental?: boolean },
    onProgress?: (progress: MaterializeProgress) => void,
  ): Promise<MaterializeProgress[]> {
    const stream = this.featureStore.materialize(
      {
        featureViews: [...request.featureViews],
        startTime: BigInt(Math.floor(request.startMillis ?? 0)),
        endTime: BigInt(Math.floor(request.endMillis ?? 0)),
        incremental: request.incremental ?? false,
      },
      new Metadata(),
      { deadline: Date.now() + this.timeoutMillis * 20 },
    );
    const finals: MaterializeProgress[] = [];
    try {
      for await (const progress of stream as AsyncIterable<MaterializeProgress>) {
        onProgress?.(progress);
        if (progress.done) finals.push(progress);
      }
    } catch (error) {
      throw fromServiceError(error as ServiceError);
    }
    return finals;
  }

  /** The write-behind queue's depth, offline lag and dead letters. */
  writeBehindStats(): Promise<WriteBehindStats> {
    return this.call(true, {}, (o, cb) => this.operations.getWriteBehindStats({}, new Metadata(), o, cb));
  }

  async listDeadLetters(limit = 100): Promise<DeadLetter[]> {
    const response = await this.call<ListDeadLettersResponse>(true, {}, (o, cb) =>
      this.operations.listDeadLetters({ limit }, new Metadata(), o, cb),
    );
    return response.deadLetters;
  }

  getDeadLetter(id: string): Promise<DeadLetter> {
    return this.call(true, {}, (o, cb) => this.operations.getDeadLetter({ id }, new Metadata(), o, cb));
  }

  /** Runs a dead letter again (same deduplication token); NOT_FOUND when absent. */
  async replayDeadLetter(id: string): Promise<void> {
    await unary((cb) => this.operations.replayDeadLetter({ id }, new Metadata(), this.options(), cb));
  }

  async dropDeadLetter(id: string): Promise<void> {
    await unary((cb) => this.operations.dropDeadLetter({ id }, new Metadata(), this.options(), cb));
  }
  /** Creates an API key (admin scope); the token in the answer is shown once. */
  createApiKey(name: string, scopes: readonly Scope[]): Promise<CreateApiKeyResponse> {
    return unary((cb) =>
      this.operations.createApiKey({ name, scopes: scopes.map(toProtoScope) }, new Metadata(), this.options(), cb),
    );
  }

  listApiKeys(includeRevoked = false): Promise<ListApiKeysResponse> {
    return this.call(true, {}, (o, cb) => this.operations.listApiKeys({ includeRevoked }, new Metadata(), o, cb));
  }

  /** A new secret for the named key; the old one stops working. */
  rotateApiKey(name: string): Promise<CreateApiKeyResponse> {
    return unary((cb) => this.operations.rotateApiKey({ name }, new Metadata(), this.options(), cb));
  }

  revokeApiKey(name: string): Promise<ApiKey> {
    return unary((cb) => this.operations.revokeApiKey({ name }, new Metadata(), this.options(), cb));
  }

  close(): void {
    this.featureStore.close();
    this.registry.close();
    this.operations.close();
  }
}

function withWriteDefaults(
  request: Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>,
): WriteRequest {
  return {
    featureView: request.featureView,
    columns: request.columns,
    eventTimestamps: request.eventTimestamps,
    target: request.target ?? WriteTarget.WRITE_TARGET_UNSPECIFIED,
    durability: request.durability ?? Durability.DURABILITY_UNSPECIFIED,
    idempotencyKey: request.idempotencyKey ?? '',
  };
}
