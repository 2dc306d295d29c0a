import type { ServerUnaryCall, ServerWritableStream, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { TesseraError, checkRefLength } from '@tessera/core';
import { Durability, HistoricalFormat, WriteTarget } from '@tessera/proto';
import { addWriteTotals, emptyWriteTotals } from '@tessera/wire';
import type {
  FeatureStoreServer,
  GetHistoricalRequest,
  GetHistoricalResponse,
  GetOnlineFeaturesRequest,
  GetOnlineFeaturesResponse,
  MaterializeProgress,
  MaterializeRequest,
  WriteRequest,
  WriteResponse,
} from '@tessera/proto';
import { callDeadlineMillis } from './deadline.js';
import { capDetails, toGrpcStatus } from './grpc-status.js';
import { callAllows } from './auth.js';
import { DEFAULT_MAX_REFS_PER_REQUEST, checkEnum, checkRefs } from './request-checks.js';
import { assertValidUtf8 } from './strict-utf8.js';
import { DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS } from './write.js';
import { readOnline } from './on-demand-read.js';
import type { OnlinePlan as ReadPlan } from './on-demand-read.js';
import { withRefreshOnMiss, type RegistryAccess } from './registry-access.js';
import { streamHistorical } from './historical.js';
import type { Lanes } from './lanes.js';
import { executeWrite, type WriteStores } from './write.js';
import type { MaterializeState } from '@tessera/core';
import type { MaterializeRunner, RebuildBarrier } from '@tessera/materialize';
import { streamMaterialize } from './materialize.js';

export interface FeatureStoreLimits {
  /** Most entities one GetOnlineFeatures request may ask for, and rows one Write may carry. */
  readonly maxBatchRows: number;
  /** Most inline entity rows of one GetHistorical request. */
  readonly maxEntityRows: number;
  /** Most feature refs one request names (and views one Materialize names). Default 1,000. */
  readonly maxRefsPerRequest?: number;
  /**
   * How far past the server's clock an event time (and a Materialize end) may be, ms; later ones
   * are refused, since one far-future event would win every last-writer-wins compare. Default 1 day.
   */
  readonly maxEventTimeSkewMillis?: number;
  /** Most rows an entity SELECT or view entity set may produce (the offline store's default unless given). */
  readonly maxEntitySetRows?: number;
  /** Bounded lanes of GetHistorical and Materialize; unbounded without. */
  readonly lanes?: Lanes;
}

/** Most distinct feature lists whose read plans stay cached. */
const PLAN_CACHE_SIZE = 1_000;

/** How one front door wants its online answers. */
export interface OnlineCallOptions {
  /** Values older than their view's TTL keep their value (status EXPIRED still); default null. */
  readonly keepExpiredValues?: boolean;
}

/**
 * The serving entry points behind every front door (the gRPC FeatureStore service, the Feast HTTP
 * endpoints): one validation, one read plan cache, one write path.
 */
export interface FeatureStoreCalls {
  /** GetOnlineFeatures; validation errors are thrown synchronously or reject, as TesseraErrors. */
  getOnlineFeatures(
    request: GetOnlineFeaturesRequest,
    deadlineMillis: number | undefined,
    options?: OnlineCallOptions,
  ): Promise<GetOnlineFeaturesResponse>;
  /** Write (one message). */
  write(request: WriteRequest, deadlineMillis: number | undefined): Promise<WriteResponse>;
}

/** Builds the serving entry points (see {@link FeatureStoreCalls}). */
export function createFeatureStoreCalls(
  registry: RegistryAccess,
  stores: WriteStores,
  limits: FeatureStoreLimits,
): FeatureStoreCalls {
  const maxRefs = limits.maxRefsPerRequest ?? DEFAULT_MAX_REFS_PER_REQUEST;
  const writeLimits = {
    maxBatchRows: limits.maxBatchRows,
    maxEventTimeSkewMillis: limits.maxEventTimeSkewMillis ?? DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS,
  };
  const plans = new Map<string, ReadPlan>();
  let plansSequence = -1;

  function readPlan(request: GetOnlineFeaturesRequest): ReadPlan {
    const sequence = registry.sequence();
    if (sequence !== plansSequence) {
      plans.clear();
      plansSequence = sequence;
    }
    const cacheKey = request.featureService !== '' ? `@${request.featureService}` : request.features.join('\n');
    let plan = plans.get(cacheKey);
    if (!plan) {
      plan = registry.readPlan(request.features, request.featureService);
      if (plans.size >= PLAN_CACHE_SIZE) plans.clear();
      plans.set(cacheKey, plan);
    }
    return plan;
  }

  return {
    getOnlineFeatures(request, deadlineMillis, callOptions) {
      assertValidUtf8(request, 'GetOnlineFeatures');
      checkRefs(request.features, request.featureService, maxRefs, 'GetOnlineFeatures');
      if (request.features.length === 0 && request.featureService === '') {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          'GetOnlineFeatures: name features (refs such as customer_stats:loyalty_score) or a feature_service',
        );
      }
      if (request.features.length > 0 && request.featureService !== '') {
        throw new TesseraError('INVALID_ARGUMENT', 'GetOnlineFeatures: give features or feature_service, not both');
      }
      const read = (plan: ReadPlan): Promise<GetOnlineFeaturesResponse> => {
        return readOnline(stores.online, plan, request.entities, limits.maxBatchRows, {
          includeEventTimestamps: request.includeEventTimestamps,
          nowMillis: stores.clock?.() ?? Date.now(),
          ...(callOptions?.keepExpiredValues === true ? { keepExpiredValues: true } : {}),
          ...(stores.telemetry === undefined ? {} : { telemetry: stores.telemetry }),
          ...(stores.tileGenerations === undefined ? {} : { tileGenerations: stores.tileGenerations }),
          ...(deadlineMillis === undefined ? {} : { deadlineMillis }),
        });
      };
      const plan = withRefreshOnMiss(registry, () => readPlan(request));
      return plan instanceof Promise ? plan.then(read) : read(plan);
    },

    async write(request, deadlineMillis) {
      assertValidUtf8(request, 'Write');
      checkRefLength(request.featureView, 'Write: feature_view');
      checkEnum(WriteTarget, request.target, 'target', 'Write');
      checkEnum(Durability, request.durability, 'durability', 'Write');
      const view = await withRefreshOnMiss(registry, () => registry.view(request.featureView));
      if (view.kind === 'on_demand') {
        throw new TesseraError(
          'FAILED_PRECONDITION',
          `Write: ${view.name} is an on-demand view: its features are computed at read time from its inputs (${(view.onDemand?.inputs ?? []).join(', ')}); write to those views instead`,
        );
      }
      if (view.kind === 'sql') {
        // Its rows are what its SELECT computed: a written row would disagree with it until the
        // next refresh of its interval replaced it.
        throw new TesseraError(
          'FAILED_PRECONDITION',
          `Write: ${view.name} is an SQL view: its rows are computed by its SQL (from ${(view.sql?.reads ?? []).join(', ')}) on its schedule; write to the views it reads instead, or backfill it (tessera backfill ${view.name})`,
        );
      }
      return executeWrite(stores, view, request, writeLimits, deadlineMillis);
    },
  };
}

/** The FeatureStore service: online reads, writes, and training sets from the offline store. */
export function createFeatureStoreService(
  registry: RegistryAccess,
  stores: WriteStores & {
    readonly materializeState: MaterializeState;
    readonly materializeRunner: MaterializeRunner;
    /** The tile rebuild's barrier (design §3.6 step 2), for Materialize --aggregations. */
    readonly rebuildBarrier?: RebuildBarrier;
  },
  limits: FeatureStoreLimits,
  calls: FeatureStoreCalls = createFeatureStoreCalls(registry, stores, limits),
): FeatureStoreServer {
  const maxRefs = limits.maxRefsPerRequest ?? DEFAULT_MAX_REFS_PER_REQUEST;
  const writeLimits = {
    maxEventTimeSkewMillis: limits.maxEventTimeSkewMillis ?? DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS,
  };
  const writeOne = (request: WriteRequest, deadlineMillis: number | undefined): Promise<WriteResponse> =>
    calls.write(request, deadlineMillis);

  /** Checks of a GetHistorical or Materialize request before it starts; an error ends the call. */
  function checkStreamRequest(call: ServerWritableStream<unknown, unknown>, check: () => void): boolean {
    try {
      check();
      return true;
    } catch (error) {
      call.emit('error', toGrpcStatus(error));
      return false;
    }
  }

  return {
    getOnlineFeatures(
      call: ServerUnaryCall<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse>,
      callback: sendUnaryData<GetOnlineFeaturesResponse>,
    ) {
      let run: Promise<GetOnlineFeaturesResponse>;
      try {
        run = calls.getOnlineFeatures(call.request, callDeadlineMillis(call));
      } catch (error) {
        callback(toGrpcStatus(error));
        return;
      }
      run.then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error)),
      );
    },

    write(call: ServerUnaryCall<WriteRequest, WriteResponse>, callback: sendUnaryData<WriteResponse>) {
      writeOne(call.request, callDeadlineMillis(call)).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error)),
      );
    },

    writeStream(call: ServerReadableStream<WriteRequest, WriteResponse>, callback: sendUnaryData<WriteResponse>) {
      // Each message is validated and written whole, in order; the stream is paused while a
      // message is written, so a fast client is held back instead of buffered without bound.
      const total = emptyWriteTotals();
      let messages = 0;
      let failed = false;
      let chain: Promise<void> = Promise.resolve();
      const deadlineMillis = callDeadlineMillis(call);
      call.on('data', (request: WriteRequest) => {
        if (failed) return;
        call.pause();
        const index = messages++;
        chain = chain
          .then(() => writeOne(request, deadlineMillis))
          .then((r) => {
            addWriteTotals(total, r);
            call.resume();
          })
          .catch((error: unknown) => {
            failed = true;
            const grpcStatus = toGrpcStatus(error);
            grpcStatus.details = capDetails(
              `WriteStream message ${index} failed (messages before it, ${total.rows} rows, were written): ${grpcStatus.details ?? ''}`,
            );
            callback(grpcStatus);
          });
      });
      call.on('end', () => {
        void chain.then(() => {
          if (!failed) callback(null, total);
        });
      });
      call.on('error', () => {
        failed = true;
      });
    },

    getHistorical(call: ServerWritableStream<GetHistoricalRequest, GetHistoricalResponse>) {
      const request = call.request;
      const checked = checkStreamRequest(call, () => {
        // Ad-hoc SQL is an administrator's tool; readers use the built-in and registered entity sets.
        if (request.entities?.$case === 'entitySql' && !callAllows(call, 'admin')) {
          throw new TesseraError(
            'PERMISSION_DENIED',
            'GetHistorical: entity_sql needs an API key with the admin scope',
          );
        }
        assertValidUtf8(request, 'GetHistorical');
        checkRefs(request.features, request.featureService, maxRefs, 'GetHistorical');
        checkEnum(HistoricalFormat, request.format, 'format', 'GetHistorical');
      });
      if (checked) streamHistorical(call, registry, stores.offline, limits, stores.telemetry?.metrics);
    },

    materialize(call: ServerWritableStream<MaterializeRequest, MaterializeProgress>) {
      const request = call.request;
      const checked = checkStreamRequest(call, () => {
        assertValidUtf8(request, 'Materialize');
        checkRefs(request.featureViews, '', maxRefs, 'Materialize', 'feature_views');
      });
      if (checked)
        streamMaterialize(
          call,
          (ref) => registry.view(ref),
          stores.materializeRunner,
          stores.materializeState,
          writeLimits.maxEventTimeSkewMillis,
          limits.lanes?.materialize,
          stores,
        );
    },
  };
}
