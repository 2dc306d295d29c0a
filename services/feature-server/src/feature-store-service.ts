import type { ServerUnaryCall, ServerWritableStream, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { TesseraError } from '@tessera/core';
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
import { toGrpcStatus } from './grpc-status.js';
import { executeReadPlan, readEntityColumns } from './online-read.js';
import type { ReadPlan } from './online-read.js';
import type { RegistryAccess } from './registry-access.js';
import { streamHistorical } from './historical.js';
import type { Lanes } from './lanes.js';
import { executeWrite, type WriteStores } from './write.js';
import { streamMaterialize, type MaterializeRunner, type MaterializeState } from './materialize.js';

export interface FeatureStoreLimits {
  /** Most entities one GetOnlineFeatures request may ask for, and rows one Write may carry. */
  readonly maxBatchRows: number;
  /** Most inline entity rows of one GetHistorical request. */
  readonly maxEntityRows: number;
  /** Most rows an entity SELECT or view entity set may produce (the offline store's default unless given). */
  readonly maxEntitySetRows?: number;
  /** Bounded lanes of GetHistorical and Materialize; unbounded without. */
  readonly lanes?: Lanes;
}

/** Most distinct feature lists whose read plans stay cached. */
const PLAN_CACHE_SIZE = 1_000;

/** The FeatureStore service: online reads, writes, and training sets from the offline store. */
export function createFeatureStoreService(
  registry: RegistryAccess,
  stores: WriteStores & { readonly materializeState: MaterializeState; readonly materializeRunner: MaterializeRunner },
  limits: FeatureStoreLimits,
): FeatureStoreServer {
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

  async function writeOne(request: WriteRequest, deadlineMillis: number | undefined): Promise<WriteResponse> {
    const view = registry.view(request.featureView);
    return executeWrite(stores, view, request, limits, deadlineMillis);
  }

  return {
    getOnlineFeatures(
      call: ServerUnaryCall<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse>,
      callback: sendUnaryData<GetOnlineFeaturesResponse>,
    ) {
      const request = call.request;
      const deadlineMillis = callDeadlineMillis(call);
      let run: Promise<GetOnlineFeaturesResponse>;
      try {
        if (request.features.length === 0 && request.featureService === '') {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            'GetOnlineFeatures: name features (refs such as customer_stats:loyalty_score) or a feature_service',
          );
        }
        if (request.features.length > 0 && request.featureService !== '') {
          throw new TesseraError('INVALID_ARGUMENT', 'GetOnlineFeatures: give features or feature_service, not both');
        }
        const plan = readPlan(request);
        const { rows, values } = readEntityColumns(plan, request.entities, limits.maxBatchRows);
        run = executeReadPlan(stores.online, plan, rows, values, {
          includeEventTimestamps: request.includeEventTimestamps,
          nowMillis: Date.now(),
          ...(deadlineMillis === undefined ? {} : { deadlineMillis }),
        });
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
      const total = { rows: 0n, rowsAppliedOnline: 0n, rowsStaleOnline: 0n };
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
            total.rows += r.rows;
            total.rowsAppliedOnline += r.rowsAppliedOnline;
            total.rowsStaleOnline += r.rowsStaleOnline;
            call.resume();
          })
          .catch((error: unknown) => {
            failed = true;
            const grpcStatus = toGrpcStatus(error);
            grpcStatus.details = `WriteStream message ${index} failed (messages before it, ${total.rows} rows, were written): ${grpcStatus.details ?? ''}`;
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
      streamHistorical(call, registry, stores.offline, limits);
    },

    materialize(call: ServerWritableStream<MaterializeRequest, MaterializeProgress>) {
      streamMaterialize(
        call,
        (ref) => registry.view(ref),
        stores.materializeRunner,
        stores.materializeState,
        limits.lanes?.materialize,
      );
    },
  };
}
