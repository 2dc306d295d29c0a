import { Metadata } from '@grpc/grpc-js';
import type { CallOptions as GrpcCallOptions, ClientOptions, ServiceError } from '@grpc/grpc-js';
import type { Definitions, Scope } from '@tessera/core';
import { FeatureStoreClient, HistoricalFormat, OperationsClient, RegistryClient } from '@tessera/proto';
import type {
  ApiKey,
  ApplyResponse,
  Column,
  CreateApiKeyResponse,
  DeadLetter,
  GetHistoricalRequest,
  GetHistoricalResponse,
  GetOnlineFeaturesResponse,
  GetResponse,
  HistoryResponse,
  ListApiKeysResponse,
  ListDeadLettersResponse,
  ListResponse,
  MaterializeProgress,
  WriteBehindStats,
  WriteRequest,
  WriteResponse,
} from '@tessera/proto';
import { addWriteTotals, emptyWriteTotals, toProtoDefinitions, toProtoScope } from '@tessera/wire';
import type { Table } from 'apache-arrow';
import { apiKeyInterceptor, channelCredentials } from './credentials.js';
import { tableFromChunks, toEntityRows } from './historical-features.js';
import {
  entityColumns,
  onlineRequest,
  toOnlineFeatures,
  type OnlineEntities,
  type OnlineFeatures,
  type OnlineRequest,
} from './online-features.js';
import type {
  CallOptions,
  FeatureSelection,
  HistoricalEntityRows,
  TesseraClientOptions,
  WriteOptions,
} from './options.js';
import { DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from './retry.js';
import { fromServiceError, isServiceError, unary } from './service-error.js';
import { traceContextInterceptor } from './trace-context.js';
import { DEFAULT_WRITE_BATCH_ROWS, toWriteBatches, type WriteColumns, type WriteRow } from './write-batches.js';
import { batchWriteRequest, viewColumnTypes, withWriteDefaults } from './write-request.js';

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
    entities: OnlineEntities,
    options?: CallOptions & { includeEventTimestamps?: boolean },
  ): Promise<OnlineFeatures>;
  /** The same, as one request object. */
  getOnlineFeatures(request: OnlineRequest): Promise<OnlineFeatures>;
  async getOnlineFeatures(
    first: FeatureSelection | OnlineRequest,
    entities?: OnlineEntities,
    options: CallOptions & { includeEventTimestamps?: boolean } = {},
  ): Promise<OnlineFeatures> {
    const request = onlineRequest(first, entities, options.includeEventTimestamps ?? false);
    const response = await this.getOnlineFeaturesRaw(
      { ...request, entities: entityColumns(request.entities) },
      options,
    );
    return toOnlineFeatures(response, request.includeEventTimestamps === true);
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
    return tableFromChunks(
      this.getHistorical(
        {
          entities: { $case: 'rows', value: toEntityRows(entityRows) },
          features: Array.isArray(refs) ? [...(refs as readonly string[])] : [],
          featureService: Array.isArray(refs) ? '' : (refs as { featureService: string }).featureService,
          format: HistoricalFormat.HISTORICAL_FORMAT_ARROW,
          chunkRows: options.chunkRows ?? 0,
        },
        options,
      ),
    );
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
    const { label, types, joinKeys } = viewColumnTypes(first, await this.get('feature_view', first, options));
    const batches = toWriteBatches(label, types, joinKeys, data ?? [], {
      batchRows: options.batchRows ?? DEFAULT_WRITE_BATCH_ROWS,
      eventTimestampField: options.eventTimestampField ?? 'event_timestamp',
    });
    const total = emptyWriteTotals();
    for (const [i, batch] of batches.entries()) {
      addWriteTotals(total, await this.writeRequest(batchWriteRequest(first, batch, i, options), options));
    }
    return total;
  }

  private writeRequest(request: WriteRequest, options: CallOptions): Promise<WriteResponse> {
    return this.call(request.idempotencyKey !== '', options, (o, cb) =>
      this.featureStore.write(request, new Metadata(), o, cb),
    );
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
   * message of each view. `aggregations`: rebuild the views' online window-aggregation tiles from
   * their offline events instead (resumable; the time range is not used).
   */
  async materialize(
    request: {
      featureViews: readonly string[];
      startMillis?: number;
      endMillis?: number;
      incremental?: boolean;
      aggregations?: boolean;
    },
    onProgress?: (progress: MaterializeProgress) => void,
  ): Promise<MaterializeProgress[]> {
    const stream = this.featureStore.materialize(
      {
        featureViews: [...request.featureViews],
        startTime: BigInt(Math.floor(request.startMillis ?? 0)),
        endTime: BigInt(Math.floor(request.endMillis ?? 0)),
        incremental: request.incremental ?? false,
        aggregations: request.aggregations ?? false,
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
