import { Metadata } from '@grpc/grpc-js';
import type { CallOptions, ChannelCredentials, ClientOptions, ServiceError } from '@grpc/grpc-js';
import type { Definitions, FeatureValue, JoinKeyValue, Scope, ValueType } from '@tessera/core';
import { traceContextInterceptor } from './trace-context.js';
import {
  Durability,
  FeatureStatus,
  FeatureStoreClient,
  OperationsClient,
  RegistryClient,
  WriteTarget,
} from '@tessera/proto';
import type {
  DeadLetter,
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
import { apiKeyInterceptor, channelCredentials, type ClientTlsOptions } from './credentials.js';
import { fromServiceError, isServiceError, unary } from './service-error.js';

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
}

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

/** The TypeScript client of a Tessera feature server (FeatureStore and Registry services). */
export class TesseraClient {
  readonly featureStore: FeatureStoreClient;
  readonly registry: RegistryClient;
  readonly operations: OperationsClient;
  private readonly timeoutMillis: number;

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
  }

  private options(): Partial<CallOptions> {
    return { deadline: Date.now() + this.timeoutMillis };
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

  list(): Promise<ListResponse> {
    return unary((cb) => this.registry.list({}, new Metadata(), this.options(), cb));
  }

  get(objectType: 'entity' | 'feature_view' | 'feature_service' | 'entity_source', name: string): Promise<GetResponse> {
    return unary((cb) => this.registry.get({ objectType, name }, new Metadata(), this.options(), cb));
  }

  history(featureView: string): Promise<HistoryResponse> {
    return unary((cb) => this.registry.history({ featureView }, new Metadata(), this.options(), cb));
  }

  /** Raw columnar GetOnlineFeatures. */
  getOnlineFeaturesRaw(request: {
    features?: readonly string[];
    featureService?: string;
    entities: Record<string, Column>;
    includeEventTimestamps?: boolean;
  }): Promise<GetOnlineFeaturesResponse> {
    return unary((cb) =>
      this.featureStore.getOnlineFeatures(
        {
          features: [...(request.features ?? [])],
          featureService: request.featureService ?? '',
          entities: request.entities,
          includeEventTimestamps: request.includeEventTimestamps ?? false,
        },
        new Metadata(),
        this.options(),
        cb,
      ),
    );
  }

  /**
   * Latest feature values for entities given as join key → values (bigint/number for int64
   * keys, string for string keys).
   */
  async getOnlineFeatures(request: {
    features?: readonly string[];
    featureService?: string;
    entities: Record<string, readonly (JoinKeyValue | number)[]>;
    includeEventTimestamps?: boolean;
  }): Promise<OnlineFeatures> {
    const entities: Record<string, Column> = {};
    for (const [name, values] of Object.entries(request.entities)) {
      const allStrings = values.every((v) => typeof v === 'string');
      entities[name] = allStrings
        ? toColumn('string', values)
        : toColumn(
            'int64',
            values.map((v) => (typeof v === 'string' ? BigInt(v) : BigInt(v))),
          );
    }
    const response = await this.getOnlineFeaturesRaw({ ...request, entities });
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
   * short, when the server fails midway.
   */
  async *getHistorical(
    request: GetHistoricalRequest,
    options: { timeoutMillis?: number } = {},
  ): AsyncGenerator<GetHistoricalResponse> {
    const stream = this.featureStore.getHistorical(request, new Metadata(), {
      deadline: Date.now() + (options.timeoutMillis ?? this.timeoutMillis * 20),
    });
    try {
      for await (const chunk of stream as AsyncIterable<GetHistoricalResponse>) yield chunk;
    } catch (error) {
      throw isServiceError(error) ? fromServiceError(error) : error;
    } finally {
      stream.cancel();
    }
  }

  /** Writes one columnar batch; the server's default target is online and offline. */
  write(request: Partial<WriteRequest> & Pick<WriteRequest, 'featureView' | 'columns'>): Promise<WriteResponse> {
    return unary((cb) => this.featureStore.write(withWriteDefaults(request), new Metadata(), this.options(), cb));
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
    return unary((cb) => this.operations.getWriteBehindStats({}, new Metadata(), this.options(), cb));
  }

  async listDeadLetters(limit = 100): Promise<DeadLetter[]> {
    const response = await unary<ListDeadLettersResponse>((cb) =>
      this.operations.listDeadLetters({ limit }, new Metadata(), this.options(), cb),
    );
    return response.deadLetters;
  }

  getDeadLetter(id: string): Promise<DeadLetter> {
    return unary((cb) => this.operations.getDeadLetter({ id }, new Metadata(), this.options(), cb));
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
    return unary((cb) => this.operations.listApiKeys({ includeRevoked }, new Metadata(), this.options(), cb));
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
