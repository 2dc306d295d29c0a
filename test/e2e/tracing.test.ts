import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient, toColumn } from '@tessera/client';
import type { RedisClusterOnlineStore } from '@tessera/online';
import { Durability, HistoricalFormat } from '@tessera/proto';
import { startTracing, type Tracing } from '@tessera/tracing';
import {
  JAEGER_BUILD_TIMEOUT_MILLIS,
  startCli,
  startJaeger,
  type CliProcess,
  type RunningJaeger,
} from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';
import { EVENTS_REPO } from '../support/write-load.js';

// Traces end to end in a real Jaeger (v1.75.0, built here on first use, in-memory, OTLP/HTTP on
// loopback): this process is the feature servers (service `tessera-server`, sampling 1), a `tessera
// writer` child process is `tessera-writer`. Each call carries a W3C trace context the test made
// up, so its trace is found by id and the server span's parent is known.

const { nodes } = inject('redisCluster');
const keyPrefix = `tr${randomBytes(4).toString('hex')}:`;
const writerDir = mkdtempSync(join(tmpdir(), 'tessera-tracing-writer-'));
const SERVER = 'tessera-server';
const WRITER = 'tessera-writer';
/** Spans are exported every second (BatchSpanProcessor); Jaeger batches for 100 ms. */
const TRACE_WAIT_MILLIS = 30_000;

let jaeger: RunningJaeger | undefined;
let tracing: Tracing | undefined;
let cluster: TestServer | undefined;
let embedded: TestServer | undefined;
let embeddedCleanup: (() => void) | undefined;
let writer: CliProcess | undefined;

beforeAll(async () => {
  // The first run on a machine builds Jaeger (minutes); later runs start it in well under a second.
  jaeger = await startJaeger();
  tracing = startTracing({ serviceName: SERVER, otlpEndpoint: jaeger.otlpHttpUrl, sampleRatio: 1 });
  cluster = await startTestServer({ kind: 'redis-cluster', nodes, keyPrefix });
  await cluster.client.apply(EVENTS_REPO);
  const fresh = freshBackend('embedded', []);
  embeddedCleanup = fresh.cleanup;
  embedded = await startTestServer(fresh.backend);
  await embedded.client.apply(EVENTS_REPO);
  writer = startCli(
    [
      'writer',
      '--redis-cluster',
      nodes.map((n) => `${n.host}:${n.port}`).join(','),
      '--key-prefix',
      keyPrefix,
      '--data-dir',
      writerDir,
    ],
    {
      TESSERA_TRACING_ENABLED: 'true',
      TESSERA_TRACING_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      TESSERA_TRACING_SAMPLE_RATIO: '1',
    },
  );
  await writer.waitFor(/writer consuming/);
}, JAEGER_BUILD_TIMEOUT_MILLIS + 120_000);

afterAll(async () => {
  await writer?.stop('SIGTERM');
  await cluster?.[Symbol.asyncDispose]();
  await embedded?.[Symbol.asyncDispose]();
  await tracing?.shutdown();
  await jaeger?.stop();
  embeddedCleanup?.();
  rmSync(writerDir, { recursive: true, force: true });
});

/** One span as Jaeger's HTTP API returns it, with its tags as a map and its service resolved. */
interface JaegerSpan {
  readonly spanID: string;
  readonly operationName: string;
  readonly parentSpanID: string | undefined;
  readonly service: string;
  readonly tags: ReadonlyMap<string, unknown>;
}

interface RawTrace {
  readonly spans: {
    spanID: string;
    operationName: string;
    processID: string;
    references: { refType: string; spanID: string }[];
    tags: { key: string; value: unknown }[];
  }[];
  readonly processes: Record<string, { serviceName: string }>;
}

/** The spans of `traceId` in Jaeger once `complete(spans)` holds (polled); fails after a while with what it has. */
async function traceOf(traceId: string, complete: (spans: JaegerSpan[]) => boolean): Promise<JaegerSpan[]> {
  const deadline = Date.now() + TRACE_WAIT_MILLIS;
  let spans: JaegerSpan[] = [];
  for (;;) {
    const response = await fetch(`${jaeger?.queryUrl}/api/traces/${traceId}`);
    if (response.ok) {
      const body = (await response.json()) as { data: RawTrace[] };
      spans = (body.data[0]?.spans ?? []).map((s) => ({
        spanID: s.spanID,
        operationName: s.operationName,
        parentSpanID: s.references.find((r) => r.refType === 'CHILD_OF')?.spanID,
        service: body.data[0]?.processes[s.processID]?.serviceName ?? '',
        tags: new Map(s.tags.map((t) => [t.key, t.value])),
      }));
      if (complete(spans)) return spans;
    }
    if (Date.now() > deadline) {
      throw new Error(`trace ${traceId} incomplete after ${TRACE_WAIT_MILLIS} ms: ${describeSpans(spans)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function describeSpans(spans: readonly JaegerSpan[]): string {
  return JSON.stringify(spans.map((s) => `${s.service}/${s.operationName}`));
}

/** Runs `call` as if a traced caller made it: a made-up sampled W3C parent the client sends in metadata. */
function asCaller<T>(call: () => Promise<T>): { traceId: string; parentSpanId: string; result: Promise<T> } {
  const traceId = randomBytes(16).toString('hex');
  const parentSpanId = randomBytes(8).toString('hex');
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId: parentSpanId,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
  return { traceId, parentSpanId, result: context.with(parent, call) };
}

function only(spans: readonly JaegerSpan[], operation: string, service = SERVER): JaegerSpan {
  const found = spans.filter((s) => s.operationName === operation && s.service === service);
  expect(found, `${service}/${operation} in ${describeSpans(spans)}`).toHaveLength(1);
  return found[0] as JaegerSpan;
}

const children = (spans: readonly JaegerSpan[], parent: JaegerSpan, operation: string): JaegerSpan[] =>
  spans.filter((s) => s.parentSpanID === parent.spanID && s.operationName === operation);

/** `host:port` of every master of the cluster, as the server's online store sees it. */
function masterAddresses(): Set<string> {
  const store = cluster?.server.store as RedisClusterOnlineStore;
  return new Set(store.cluster.nodes('master').map((node) => `${node.options.host}:${node.options.port}`));
}

/** A GetHistorical of `events:amount` for `ids`, as of now. */
const historicalRequest = (ids: readonly bigint[]) => ({
  entities: {
    $case: 'rows' as const,
    value: {
      keys: { user_id: toColumn('int64', ids) },
      eventTimestamps: ids.map(() => BigInt(Date.now())),
      passthrough: {},
    },
  },
  features: ['events:amount'],
  featureService: '',
  format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
  chunkRows: 100,
});

const users = (count: number, from = 0): bigint[] => Array.from({ length: count }, (_, i) => BigInt(from + i));

describe('traces in Jaeger', () => {
  it("continues a write-behind Write's trace from the server through the queue to the writer's insert", async () => {
    const ids = users(60);
    const { traceId, parentSpanId, result } = asCaller(() =>
      (cluster as TestServer).client.write({
        featureView: 'events',
        durability: Durability.DURABILITY_WRITE_BEHIND,
        columns: { user_id: toColumn('int64', ids), amount: toColumn('double', ids.map(Number)) },
        eventTimestamps: toColumn(
          'timestamp',
          ids.map(() => Date.now()),
        ),
      }),
    );
    await result;
    const spans = await traceOf(
      traceId,
      (s) =>
        s.some((x) => x.service === WRITER && x.operationName.startsWith('INSERT ')) &&
        // Each process exports on its own schedule: wait for the server span too (it ends after its children).
        s.some((x) => x.service === SERVER && x.operationName === 'tessera.v1.FeatureStore/Write'),
    );

    // The server span continues the caller's context from the gRPC metadata.
    const write = only(spans, 'tessera.v1.FeatureStore/Write');
    expect(write.parentSpanID).toBe(parentSpanId);
    expect(
      Object.fromEntries(
        ['rpc.system', 'rpc.service', 'rpc.method', 'rpc.grpc.status_code'].map((k) => [k, write.tags.get(k)]),
      ),
    ).toEqual({
      'rpc.system': 'grpc',
      'rpc.service': 'tessera.v1.FeatureStore',
      'rpc.method': 'Write',
      'rpc.grpc.status_code': 0,
    });

    // The online write: one pipeline span per master, each naming its master.
    const pipelines = children(spans, write, 'BATCH EVALSHA');
    const addresses = pipelines.map(
      (s) => `${String(s.tags.get('server.address'))}:${String(s.tags.get('server.port'))}`,
    );
    expect(new Set(addresses).size).toBe(pipelines.length);
    expect(new Set(addresses)).toEqual(masterAddresses());
    expect(pipelines.reduce((n, s) => n + Number(s.tags.get('db.operation.batch.size')), 0)).toBe(ids.length);
    expect(pipelines.every((s) => s.tags.get('db.system.name') === 'redis')).toBe(true);

    // The offline rows: enqueue → BullMQ's producer span → the writer's consumer span → insert → chDB.
    const enqueue = only(spans, 'enqueue offline');
    expect(enqueue.parentSpanID).toBe(write.spanID);
    expect(enqueue.tags.get('messaging.system')).toBe('bullmq');
    expect(enqueue.tags.get('messaging.destination.name')).toBe('offline');
    const producer = spans.filter((s) => s.parentSpanID === enqueue.spanID && s.tags.get('span.kind') === 'producer');
    expect(producer, describeSpans(spans)).toHaveLength(1);
    const consumer = spans.filter((s) => s.service === WRITER && s.tags.get('span.kind') === 'consumer');
    expect(consumer, describeSpans(spans)).toHaveLength(1);
    expect(consumer[0]?.parentSpanID).toBe(producer[0]?.spanID);
    const insert = only(spans, 'insert events@1', WRITER);
    expect(insert.parentSpanID).toBe(consumer[0]?.spanID);
    expect(insert.tags.get('tessera.writebehind.rows')).toBe(ids.length);
    const chdbInsert = spans.find((s) => s.parentSpanID === insert.spanID && s.operationName.startsWith('INSERT '));
    expect(chdbInsert?.service).toBe(WRITER);
    expect(chdbInsert?.tags.get('db.system.name')).toBe('clickhouse');
    expect(chdbInsert?.tags.get('db.clickhouse.written_rows')).toBe(ids.length);
  });

  it('gives a GetOnlineFeatures over the Redis Cluster one span per master it reads from', async () => {
    const ids = users(60, 1_000);
    const { traceId, parentSpanId, result } = asCaller(() =>
      (cluster as TestServer).client.getOnlineFeatures({ features: ['events:amount'], entities: { user_id: ids } }),
    );
    expect((await result).statuses[0]).toHaveLength(ids.length);
    const spans = await traceOf(traceId, (s) =>
      s.some((x) => x.operationName === 'tessera.v1.FeatureStore/GetOnlineFeatures'),
    );
    const get = only(spans, 'tessera.v1.FeatureStore/GetOnlineFeatures');
    expect(get.parentSpanID).toBe(parentSpanId);
    const reads = children(spans, get, 'BATCH HMGET');
    const addresses = reads.map((s) => `${String(s.tags.get('server.address'))}:${String(s.tags.get('server.port'))}`);
    expect(addresses).toHaveLength(new Set(addresses).size);
    expect(new Set(addresses)).toEqual(masterAddresses());
    expect(reads.reduce((n, s) => n + Number(s.tags.get('db.operation.batch.size')), 0)).toBe(ids.length);
  });

  it("records a caller's error code on the server span without marking the span failed", async () => {
    const { traceId, result } = asCaller(() =>
      (cluster as TestServer).client.getOnlineFeatures({ features: ['nope:amount'], entities: { user_id: [1n] } }),
    );
    await expect(result).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const spans = await traceOf(traceId, (s) => s.length > 0);
    const get = only(spans, 'tessera.v1.FeatureStore/GetOnlineFeatures');
    expect(get.tags.get('rpc.grpc.status_code')).toBe(5);
    expect(get.tags.get('otel.status_code')).toBeUndefined();
  });

  it('marks the server span failed when the server is at fault (UNAVAILABLE: no offline store here)', async () => {
    // One attempt: the client retries UNAVAILABLE by default, and each retry is a server span of its own.
    const once = new TesseraClient({ address: (cluster as TestServer).server.address, retry: { maxAttempts: 1 } });
    const { traceId, result } = asCaller(async () => {
      for await (const _ of once.getHistorical(historicalRequest(users(1))));
    });
    await expect(result).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    once.close();
    const spans = await traceOf(traceId, (s) => s.length > 0);
    const get = only(spans, 'tessera.v1.FeatureStore/GetHistorical');
    expect(get.tags.get('rpc.grpc.status_code')).toBe(14);
    expect(get.tags.get('otel.status_code')).toBe('ERROR');
  });

  it('traces an embedded Write to its outbox append and a GetHistorical to its chDB queries', async () => {
    const ids = users(5);
    const write = asCaller(() =>
      (embedded as TestServer).client.write({
        featureView: 'events',
        columns: { user_id: toColumn('int64', ids), amount: toColumn('double', ids.map(Number)) },
        eventTimestamps: toColumn(
          'timestamp',
          ids.map(() => Date.now() - 60_000),
        ),
      }),
    );
    await write.result;
    const writeSpans = await traceOf(write.traceId, (s) =>
      s.some((x) => x.operationName === 'tessera.v1.FeatureStore/Write'),
    );
    const append = only(writeSpans, 'outbox append');
    expect(append.parentSpanID).toBe(only(writeSpans, 'tessera.v1.FeatureStore/Write').spanID);
    expect(append.tags.get('tessera.writebehind.rows')).toBe(ids.length);

    const historical = asCaller(async () => {
      const chunks = [];
      for await (const chunk of (embedded as TestServer).client.getHistorical(historicalRequest(ids)))
        chunks.push(chunk);
      return chunks;
    });
    await historical.result;
    const spans = await traceOf(historical.traceId, (s) =>
      s.some((x) => x.operationName === 'tessera.v1.FeatureStore/GetHistorical'),
    );
    const get = only(spans, 'tessera.v1.FeatureStore/GetHistorical');
    expect(get.parentSpanID).toBe(historical.parentSpanId);
    const queries = spans.filter((s) => s.tags.get('db.system.name') === 'clickhouse');
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      expect(query.service).toBe(SERVER);
      expect(query.tags.get('tessera.clickhouse.engine')).toBe('chdb');
      expect(typeof query.tags.get('db.operation.name')).toBe('string');
      // Every query span hangs under the RPC (directly or through other spans of the same trace).
      let at: JaegerSpan | undefined = query;
      while (at !== undefined && at.spanID !== get.spanID) at = spans.find((s) => s.spanID === at?.parentSpanID);
      expect(at, `${query.operationName} is not under GetHistorical`).toBeDefined();
    }
    expect(queries.some((q) => typeof q.tags.get('db.clickhouse.read_rows') === 'number')).toBe(true);
    expect(queries.some((q) => typeof q.tags.get('db.clickhouse.result_bytes') === 'number')).toBe(true);
  });
});
