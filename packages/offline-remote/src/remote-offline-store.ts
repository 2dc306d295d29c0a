/**
 * The remote offline store: the OfflineStore port served by a `tessera offline-server` over gRPC.
 * Feature servers and writers of a deployment without a ClickHouse server use it to share the one
 * chDB data directory that the offline server owns. Deadlines become call deadlines and an aborted
 * signal cancels the call, which cancels the query on the offline server.
 */
import { readFileSync } from 'node:fs';
import {
  InterceptingCall,
  Metadata,
  credentials,
  type CallOptions,
  type ChannelCredentials,
  type ClientUnaryCall,
  type ClientReadableStream,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  TesseraError,
  type EntitySourceDef,
  type EventRowsRange,
  type HistoricalChunk,
  type HistoricalRequest,
  type LatestRowsRange,
  type OfflineBatch,
  type OfflineEventRow,
  type OfflineInsertOptions,
  type OfflineRow,
  type OfflineStore,
  type RegisteredView,
  type SqlViewInterval,
  type SqlViewRefreshOptions,
} from '@tessera/core';
import { OfflineStoreClient } from '@tessera/proto';
import { toProtoEntitySource } from '@tessera/wire';
import { fromOfflineStatus } from './status.js';
import { traceContextInterceptor } from './trace-context.js';
import { toInsertRequest, fromLatestRowsBatch } from './rows.js';
import { fromEventRowsBatch } from './event-rows.js';
import { MAX_BATCH_ROWS } from './bounds.js';
import { fromWireChunk, toWireHistorical } from './historical.js';
import { toWireView } from './views.js';

/** TLS towards the offline server (PEM files). */
export interface RemoteOfflineTlsOptions {
  /** CA that signed the offline server's certificate; the system roots when absent. */
  readonly caFile?: string;
  /** Client certificate and key, when the offline server requires mTLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Name the server's certificate must carry, when it is not the address's host. */
  readonly serverName?: string;
}

/** Where the offline server is and how to reach it. */
export interface RemoteOfflineStoreOptions {
  /** `host:port` of the offline server. */
  readonly address: string;
  /** API key sent as a bearer token (an admin key of the deployment when the offline server checks keys). */
  readonly apiKey?: string;
  /** TLS; plaintext without it (loopback only). */
  readonly tls?: RemoteOfflineTlsOptions;
  /** Largest message sent or received, bytes. Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /** Deadline of calls that have none of their own (ensureTables, checks, pings), ms. Default 30,000. */
  readonly defaultTimeoutMillis?: number;
}

const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MILLIS = 30_000;

/** An OfflineStore whose engine is in a `tessera offline-server` process. */
export class RemoteOfflineStore implements OfflineStore {
  readonly #client: OfflineStoreClient;
  readonly #address: string;
  readonly #timeoutMillis: number;

  constructor(options: RemoteOfflineStoreOptions) {
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#address = options.address;
    this.#timeoutMillis = options.defaultTimeoutMillis ?? DEFAULT_TIMEOUT_MILLIS;
    const serverName = options.tls?.serverName;
    this.#client = new OfflineStoreClient(options.address, channelCredentials(options.tls), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
      ...(serverName === undefined ? {} : { 'grpc.ssl_target_name_override': serverName }),
      interceptors: [
        traceContextInterceptor(),
        ...(options.apiKey === undefined ? [] : [apiKeyInterceptor(options.apiKey)]),
      ],
    });
  }

  /** `host:port` of the offline server. */
  get address(): string {
    return this.#address;
  }

  async ensureTables(views: readonly RegisteredView[]): Promise<void> {
    if (views.length === 0) return;
    await this.#unary((cb) =>
      this.#client.ensureTables({ views: views.map(toWireView) }, new Metadata(), this.#options(), cb),
    );
  }

  async insert(view: RegisteredView, batch: OfflineBatch, options: OfflineInsertOptions = {}): Promise<void> {
    const request = toInsertRequest(view, batch, options.dedupToken ?? '');
    await this.#unary((cb) => this.#client.insert(request, new Metadata(), this.#options(options.deadlineMillis), cb));
  }

  async *latestRows(view: RegisteredView, range: LatestRowsRange): AsyncIterable<OfflineRow[]> {
    const call = this.#client.latestRows(
      {
        view: toWireView(view),
        startMillis: range.startMillis,
        endMillis: range.endMillis,
        partIndex: range.part?.index ?? 0,
        partCount: range.part?.count ?? 0,
        batchRows: Math.min(range.batchRows, MAX_BATCH_ROWS),
      },
      { deadline: Infinity },
    );
    for await (const batch of this.#stream(call, range.signal)) yield fromLatestRowsBatch(view, batch);
  }

  async *eventRows(view: RegisteredView, range: EventRowsRange): AsyncIterable<OfflineEventRow[]> {
    const call = this.#client.eventRows(
      {
        view: toWireView(view),
        beforeGeneration: range.beforeGeneration,
        partIndex: range.part?.index ?? 0,
        partCount: range.part?.count ?? 0,
        // Batches only chunk the stream (a batch may end inside an entity): a smaller one is the same stream.
        batchRows: Math.min(range.batchRows, MAX_BATCH_ROWS),
      },
      { deadline: Infinity },
    );
    for await (const batch of this.#stream(call, range.signal)) yield fromEventRowsBatch(view, batch);
  }

  async *historical(request: HistoricalRequest): AsyncIterable<HistoricalChunk> {
    const call = this.#client.historical(
      toWireHistorical(request),
      request.deadlineMillis === undefined ? { deadline: Infinity } : { deadline: request.deadlineMillis },
    );
    for await (const chunk of this.#stream(call, request.signal)) yield fromWireChunk(chunk, request.format);
  }

  async checkEntitySource(source: EntitySourceDef): Promise<void> {
    await this.#unary((cb) =>
      this.#client.checkEntitySource({ source: toProtoEntitySource(source) }, new Metadata(), this.#options(), cb),
    );
  }

  async checkSqlView(view: RegisteredView, reads: readonly RegisteredView[]): Promise<void> {
    await this.#unary((cb) =>
      this.#client.checkSqlView(
        { view: toWireView(view), reads: reads.map(toWireView) },
        new Metadata(),
        this.#options(),
        cb,
      ),
    );
  }

  async refreshSqlView(view: RegisteredView, interval: SqlViewInterval, options: SqlViewRefreshOptions): Promise<void> {
    for (const bound of [interval.startMillis, interval.endMillis]) {
      if (!Number.isSafeInteger(bound)) {
        throw new TesseraError('INVALID_ARGUMENT', `SQL view ${view.name}: interval bound ${bound} is not an integer`);
      }
    }
    const request = {
      view: toWireView(view),
      startMillis: BigInt(interval.startMillis),
      endMillis: BigInt(interval.endMillis),
      dedupToken: options.dedupToken,
    };
    // An interval's INSERT … SELECT may run long: no deadline of its own; an abort cancels it.
    const signal = options.signal;
    signal?.throwIfAborted();
    let call: ClientUnaryCall | undefined;
    const cancel = (): void => call?.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      await this.#unary((cb) => {
        call = this.#client.refreshSqlView(request, new Metadata(), { deadline: Infinity }, cb);
        return call;
      });
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** Resolves once the offline server's engine answers a trivial query. */
  async ping(timeoutMillis?: number): Promise<void> {
    await this.#unary((cb) =>
      this.#client.ping(
        {},
        new Metadata(),
        this.#options(timeoutMillis === undefined ? undefined : Date.now() + timeoutMillis),
        cb,
      ),
    );
  }

  close(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }

  #options(deadlineMillis?: number): Partial<CallOptions> {
    return { deadline: deadlineMillis ?? Date.now() + this.#timeoutMillis };
  }

  #unary<T>(start: (cb: (error: ServiceError | null, response?: T) => void) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      start((error, response) => (error ? reject(fromOfflineStatus(error, this.#address)) : resolve(response as T)));
    });
  }

  /** The messages of a server stream; an abort of `signal` cancels the call (and the query behind it). */
  async *#stream<T>(call: ClientReadableStream<T>, signal: AbortSignal | undefined): AsyncIterable<T> {
    const cancel = (): void => call.cancel();
    if (signal?.aborted === true) call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const message of call as AsyncIterable<T>) yield message;
    } catch (error) {
      if (signal?.aborted === true) throw new TesseraError('UNAVAILABLE', 'offline call cancelled', { cause: error });
      throw isServiceError(error) ? fromOfflineStatus(error, this.#address) : error;
    } finally {
      signal?.removeEventListener('abort', cancel);
      // A consumer that stops early (break, an error downstream) ends the call and its query.
      call.cancel();
    }
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number';
}

function channelCredentials(tls: RemoteOfflineTlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  const read = (path: string | undefined): Buffer | null => {
    if (path === undefined) return null;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new TesseraError(
        'FAILED_PRECONDITION',
        `cannot read the offline server TLS file ${path}: ${(error as Error).message}`,
      );
    }
  };
  return credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile));
}

function apiKeyInterceptor(apiKey: string): Interceptor {
  const value = `Bearer ${apiKey}`;
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}
