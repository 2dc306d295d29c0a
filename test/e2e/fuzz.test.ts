import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient, toColumn, toProtoDefinitions } from '@tessera/client';
import { WriteTarget } from '@tessera/proto';
import type {
  Column,
  GetHistoricalRequest,
  GetOnlineFeaturesRequest,
  MaterializeRequest,
  WriteRequest,
} from '@tessera/proto';
import { openEmbeddedOfflineStore, qualifiedName, tableName } from '@tessera/offline';
import { definitionsFromYaml } from '@tessera/testkit';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';

// Property-based fuzzing of every RPC with generated protobuf messages, valid and not, against a real
// server (embedded: LMDB online, chDB offline, the outbox in between). Whatever arrives, the server
// stays up, answers with a documented status (never INTERNAL or UNKNOWN for bad input), and the rows it
// stores online and offline are exactly those of the writes it acknowledged.

const RUNS_PER_RPC = Number(process.env['TESSERA_FUZZ_RUNS'] ?? 1_200);
/** Per RPC: fast-check stops generating after this, and the test fails if it ran fewer than RUNS_PER_RPC. */
const TIME_LIMIT_MILLIS = 60_000;
const SEED = Number(process.env['TESSERA_FUZZ_SEED'] ?? Date.now() % 1_000_000);

/** Statuses a bad request may get. INTERNAL and UNKNOWN are bugs. */
const DOCUMENTED = new Set<status>([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
  status.UNIMPLEMENTED,
]);

const REPO = definitionsFromYaml({
  'repo.yaml': `
project: fuzz
entities:
  - { name: user, join_keys: [{ name: user_id, type: int64 }] }
  - { name: item, join_keys: [{ name: item_id, type: string }] }
entity_sources:
  - name: recent_users
    sql: >-
      SELECT DISTINCT user_id, event_ts FROM tessera.fv_scores__v1
      WHERE event_ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
    params: [{ name: since, type: timestamp }]
feature_views:
  - name: scores
    entities: [user]
    ttl: 30d
    features:
      - { name: score, type: double, min: 0, max: 100 }
      - { name: label, type: string }
      - { name: vec, type: float_list, dimension: 2 }
      - { name: tags, type: string_list }
      - { name: seen, type: timestamp }
      - { name: flag, type: bool }
      - { name: n, type: int64 }
  - name: items
    entities: [item]
    features:
      - { name: price, type: double, not_null: true }
`,
});

// ---------------------------------------------------------------- arbitraries

const NOW = Date.now();
const names = fc.constantFrom(
  'user_id',
  'item_id',
  'score',
  'label',
  'vec',
  'tags',
  'seen',
  'flag',
  'n',
  'price',
  'ghost',
  '',
  'x'.repeat(300),
);
const refs = fc.oneof(
  fc.constantFrom(
    'scores:score',
    'scores:*',
    'scores@1:label',
    'scores@9:score',
    'items:price',
    'scores:vec',
    'nope:x',
    'scores:',
    ':',
    '',
    '@@',
    'scores@-1:score',
    'scores@99999999999999999999:score',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 1_000, maxLength: 3_000 }).map((s) => `scores:${s}`),
);
const userIds = fc.bigInt({ min: 1n, max: 40n });
const anyInt64 = fc.oneof(userIds, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
const eventTimes = fc.oneof(
  fc.integer({ min: NOW - 90 * 86_400_000, max: NOW }).map(BigInt),
  fc.constantFrom(0n, -1n, BigInt(Date.UTC(2299, 0, 1)), BigInt(Date.UTC(9999, 0, 1)), 2n ** 62n, -(2n ** 62n)),
);
const strings = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', 'p-001', 'a'.repeat(2_000), 'x'.repeat(20_000)),
);
const doubles = fc.oneof(fc.double(), fc.double({ min: 0, max: 100, noNaN: true }));
const nullRows = fc.oneof(
  fc.constant<number[]>([]),
  fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 3 }),
  fc.constant(4_000_000_000).map((row) => [row]),
);

/** A column of `n` (or a few more or fewer) values of a random kind. */
function column(n: number): fc.Arbitrary<Column> {
  const len = fc.oneof(fc.constant(n), fc.integer({ min: 0, max: n + 2 }));
  const listColumn = <T>(values: fc.Arbitrary<T>) =>
    len.chain((k) =>
      fc.record({
        lengths: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: k, maxLength: k }),
        values: fc.array(values, { maxLength: 4 * k + 2 }),
      }),
    );
  const kind = fc.oneof(
    len
      .chain((k) => fc.array(userIds, { minLength: k, maxLength: k }))
      .map((values) => ({ $case: 'int64Values' as const, value: { values } })),
    len
      .chain((k) => fc.array(anyInt64, { minLength: k, maxLength: k }))
      .map((values) => ({ $case: 'int64Values' as const, value: { values } })),
    len
      .chain((k) => fc.array(doubles, { minLength: k, maxLength: k }))
      .map((values) => ({ $case: 'doubleValues' as const, value: { values } })),
    len
      .chain((k) => fc.array(strings, { minLength: k, maxLength: k }))
      .map((values) => ({ $case: 'stringValues' as const, value: { values } })),
    len
      .chain((k) => fc.array(fc.boolean(), { minLength: k, maxLength: k }))
      .map((values) => ({ $case: 'boolValues' as const, value: { values } })),
    len
      .chain((k) => fc.array(eventTimes, { minLength: k, maxLength: k }))
      .map((values) => ({ $case: 'timestampValues' as const, value: { values } })),
    len
      .chain((k) => fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: k, maxLength: k }))
      .map((values) => ({
        $case: 'bytesValues' as const,
        value: { values: values.map((v) => Buffer.from(v)) },
      })),
    listColumn(fc.float()).map((value) => ({ $case: 'floatListValues' as const, value })),
    listColumn(fc.double()).map((value) => ({ $case: 'doubleListValues' as const, value })),
    listColumn(anyInt64).map((value) => ({ $case: 'int64ListValues' as const, value })),
    listColumn(strings).map((value) => ({ $case: 'stringListValues' as const, value })),
    fc.constant(undefined),
  );
  return fc.record({ kind, nullRows });
}

/** Columns by name: mostly the right names, sometimes unknown or missing ones. */
function columns(n: number): fc.Arbitrary<Record<string, Column>> {
  return fc.dictionary(names, column(n), { maxKeys: 5 });
}

const rowCount = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(12));
const enumNumber = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(4, 99, -1));

/** A Write that often passes: the right columns for `scores`, with random flaws. */
const plausibleWrite: fc.Arbitrary<WriteRequest> = rowCount.chain((n) =>
  fc.record({
    featureView: fc.constantFrom('scores', 'scores', 'scores@1', 'items', 'nope', '', 'scores@2'),
    columns: fc.record({
      user_id: fc.array(userIds, { minLength: n, maxLength: n }).map((v) => toColumn('int64', v)),
      score: fc
        .array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: n, maxLength: n })
        .map((v) => toColumn('double', v)),
      label: fc.array(fc.string({ maxLength: 8 }), { minLength: n, maxLength: n }).map((v) => toColumn('string', v)),
    }),
    eventTimestamps: fc
      .array(fc.integer({ min: NOW - 30 * 86_400_000, max: NOW }), { minLength: n, maxLength: n })
      .map((v) => toColumn('timestamp', v)),
    target: fc.constantFrom(0, 1, 2, 3),
    // Sync writes insert into chDB before answering (tens of ms): fewer of them.
    durability: fc.constantFrom(0, 0, 1, 1, 1, 2),
    idempotencyKey: fc.oneof(fc.constant(''), fc.constantFrom('k1', 'k2')),
  }),
);

const anyWrite: fc.Arbitrary<WriteRequest> = fc.oneof(
  plausibleWrite,
  rowCount.chain((n) =>
    fc.record({
      featureView: fc.oneof(fc.constantFrom('scores', 'items'), fc.string({ maxLength: 30 })),
      columns: columns(n),
      eventTimestamps: column(n),
      target: enumNumber,
      durability: enumNumber,
      idempotencyKey: fc.oneof(fc.constant(''), fc.string({ maxLength: 10 }), fc.constant('i'.repeat(5_000))),
    }),
  ),
);

const goodRefs = fc.array(fc.constantFrom('scores:score', 'scores:*', 'scores@1:label', 'scores:vec', 'scores:tags'), {
  minLength: 1,
  maxLength: 3,
});

/** Requests that mostly succeed, so the success paths are fuzzed too. */
const plausibleOnline: fc.Arbitrary<GetOnlineFeaturesRequest> = rowCount.chain((n) =>
  fc.record({
    features: goodRefs,
    featureService: fc.constant(''),
    entities: fc.array(userIds, { minLength: n, maxLength: n }).map((v) => ({ user_id: toColumn('int64', v) })),
    includeEventTimestamps: fc.boolean(),
  }),
);

const randomOnline: fc.Arbitrary<GetOnlineFeaturesRequest> = rowCount.chain((n) =>
  fc.record({
    features: fc.array(refs, { maxLength: 4 }),
    featureService: fc.oneof(fc.constant(''), fc.constant(''), fc.string({ maxLength: 10 })),
    entities: fc.oneof(
      fc.array(userIds, { minLength: n, maxLength: n }).map((v) => ({ user_id: toColumn('int64', v) })),
      columns(n),
    ),
    includeEventTimestamps: fc.boolean(),
  }),
);

const onlineRequest = fc.oneof(plausibleOnline, randomOnline);

const FORBIDDEN_SQL = [
  "SELECT * FROM file('/etc/passwd')",
  "SELECT * FROM url('http://127.0.0.1:1/')",
  'SELECT 1 AS user_id, now64(3) AS event_ts; DROP TABLE x',
  "INSERT INTO FUNCTION file('/tmp/tessera-fuzz.csv') SELECT 1",
  'SELECT number AS user_id, now64(3) AS event_ts FROM numbers(10)',
  '',
  'not sql at all',
];

const plausibleHistorical: fc.Arbitrary<GetHistoricalRequest> = rowCount.chain((n) =>
  fc.record({
    entities: fc.record({
      $case: fc.constant('rows' as const),
      value: fc.record({
        keys: fc.array(userIds, { minLength: n, maxLength: n }).map((v) => ({ user_id: toColumn('int64', v) })),
        eventTimestamps: fc.array(fc.integer({ min: NOW - 60 * 86_400_000, max: NOW }).map(BigInt), {
          minLength: n,
          maxLength: n,
        }),
        passthrough: fc.constant({}),
      }),
    }),
    features: goodRefs,
    featureService: fc.constant(''),
    format: fc.constantFrom(0, 1, 2),
    chunkRows: fc.integer({ min: 0, max: 4 }),
  }),
);

const randomHistorical: fc.Arbitrary<GetHistoricalRequest> = rowCount.chain((n) =>
  fc.record({
    entities: fc.oneof(
      fc.record({
        $case: fc.constant('rows' as const),
        value: fc.record({
          keys: fc.oneof(
            fc.array(userIds, { minLength: n, maxLength: n }).map((v) => ({ user_id: toColumn('int64', v) })),
            columns(n),
          ),
          eventTimestamps: fc.oneof(
            fc.array(eventTimes, { minLength: n, maxLength: n }),
            fc.array(eventTimes, { maxLength: 8 }),
          ),
          passthrough: fc.oneof(fc.constant({}), columns(n)),
        }),
      }),
      fc.record({ $case: fc.constant('entitySql' as const), value: fc.constantFrom(...FORBIDDEN_SQL) }),
      fc.record({
        $case: fc.constant('viewEntities' as const),
        value: fc.record({
          featureView: fc.constantFrom('scores', 'items', 'nope', ''),
          startTime: eventTimes,
          endTime: eventTimes,
          hopMillis: fc.oneof(fc.constant(0n), fc.bigInt({ min: -1n, max: 10n ** 12n }), fc.constant(2n ** 62n)),
        }),
      }),
      fc.record({
        $case: fc.constant('entitySource' as const),
        value: fc.record({
          name: fc.constantFrom('recent_users', 'nope', ''),
          params: fc.dictionary(
            fc.constantFrom('since', 'ghost', ''),
            fc.oneof(strings, fc.constantFrom('2024-01-01', '0', "'); DROP TABLE x; --")),
          ),
        }),
      }),
      fc.constant(undefined),
    ),
    features: fc.array(refs, { maxLength: 3 }),
    featureService: fc.constantFrom('', '', 'ghost'),
    format: enumNumber,
    chunkRows: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 }), fc.constant(4_294_967_295)),
  }),
);

// Successful training sets cost tens of ms each on chDB: one in five keeps the run within a minute.
const historicalRequest = fc.oneof(
  { arbitrary: plausibleHistorical, weight: 1 },
  { arbitrary: randomHistorical, weight: 4 },
);

const materializeRequest: fc.Arbitrary<MaterializeRequest> = fc.record({
  featureViews: fc.array(fc.oneof(fc.constantFrom('scores', 'items', 'nope', ''), fc.string({ maxLength: 20 })), {
    maxLength: 3,
  }),
  startTime: eventTimes,
  endTime: eventTimes,
  incremental: fc.boolean(),
  aggregations: fc.constant(false),
});

// ---------------------------------------------------------------- calls

const deadline = () => ({ deadline: Date.now() + 20_000 });

function unary<T>(
  start: (done: (error: ServiceError | null, value?: T) => void) => void,
): Promise<{ code: status; value?: T }> {
  return new Promise((resolve) =>
    start((error, value) =>
      resolve(error ? { code: error.code } : { code: status.OK, ...(value === undefined ? {} : { value }) }),
    ),
  );
}

function streamed(stream: NodeJS.EventEmitter): Promise<status> {
  return new Promise((resolve) => {
    stream.on('data', () => undefined);
    stream.once('error', (error: ServiceError) => resolve(error.code));
    stream.once('end', () => resolve(status.OK));
  });
}

describe('fuzzing every RPC', () => {
  let t: TestServer;
  let cleanup: () => void;
  let dataDir: string;
  let c: TesseraClient;
  /** What acknowledged writes put where: user ids online, (user id, event time) offline. */
  const acknowledged = { online: new Set<bigint>(), offline: new Set<string>() };
  const codes = new Map<string, Map<status, number>>();

  const record = (rpc: string, code: status, request: unknown): void => {
    const counts = codes.get(rpc) ?? new Map<status, number>();
    counts.set(code, (counts.get(code) ?? 0) + 1);
    codes.set(rpc, counts);
    if (!DOCUMENTED.has(code)) {
      throw new Error(
        `${rpc} answered ${status[code]} to ${JSON.stringify(request, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 2_000)}`,
      );
    }
  };

  /** Remembers the rows of an acknowledged Write. */
  const remember = (request: WriteRequest): void => {
    if (request.featureView !== 'scores' && request.featureView !== 'scores@1') return;
    const ids = request.columns['user_id']?.kind;
    const times = request.eventTimestamps?.kind;
    if (ids?.$case !== 'int64Values' || times?.$case !== 'timestampValues') return;
    ids.value.values.forEach((id, row) => {
      if (request.target !== WriteTarget.WRITE_TARGET_OFFLINE) acknowledged.online.add(id);
      if (request.target !== WriteTarget.WRITE_TARGET_ONLINE)
        acknowledged.offline.add(`${id}@${times.value.values[row]}`);
    });
  };

  const run = async <T>(rpc: string, arbitrary: fc.Arbitrary<T>, call: (request: T) => Promise<status>) => {
    let runs = 0;
    const result = await fc.check(
      fc.asyncProperty(arbitrary, async (request) => {
        runs += 1;
        record(rpc, await call(request), request);
      }),
      { numRuns: RUNS_PER_RPC, seed: SEED, interruptAfterTimeLimit: TIME_LIMIT_MILLIS, endOnFailure: true },
    );
    // The first failing request, without fast-check's dump of the whole value (it may hold megabytes).
    if (result.failed)
      throw new Error(
        `seed ${SEED}: ${(result.errorInstance instanceof Error ? result.errorInstance.message : 'failed').slice(0, 2_500)}`,
      );
    expect(runs, `${rpc}: generated requests within ${TIME_LIMIT_MILLIS} ms`).toBeGreaterThanOrEqual(RUNS_PER_RPC);
  };

  beforeAll(async () => {
    const fresh = freshBackend('embedded', inject('redisCluster').nodes);
    cleanup = fresh.cleanup;
    if (fresh.backend.kind !== 'embedded') throw new Error('the fuzz server is embedded');
    dataDir = fresh.backend.dataDir;
    t = await startTestServer(fresh.backend);
    await t.server.apply(REPO, { author: 'fuzz' });
    c = t.client;
  });

  afterAll(async () => {
    process.stderr.write(
      `[fuzz] seed ${SEED}: ${[...codes].map(([rpc, m]) => `${rpc} ${[...m].map(([code, n]) => `${status[code]}×${n}`).join(' ')}`).join('; ')}\n`,
    );
    await t[Symbol.asyncDispose]();
    cleanup();
  });

  it('Write', async () => {
    await run('Write', anyWrite, async (request) => {
      const { code } = await unary((done) => c.featureStore.write(request, new Metadata(), deadline(), done));
      if (code === status.OK) remember(request);
      return code;
    });
  });

  it('WriteStream', async () => {
    await run('WriteStream', anyWrite, async (request) => {
      const { code } = await unary((done) => {
        const stream = c.featureStore.writeStream(new Metadata(), deadline(), done);
        stream.write(request);
        stream.end();
      });
      if (code === status.OK) remember(request);
      return code;
    });
  });

  it('GetOnlineFeatures', async () => {
    await run(
      'GetOnlineFeatures',
      onlineRequest,
      async (request) =>
        (await unary((done) => c.featureStore.getOnlineFeatures(request, new Metadata(), deadline(), done))).code,
    );
  });

  it('GetHistorical', async () => {
    await run('GetHistorical', historicalRequest, (request) =>
      streamed(c.featureStore.getHistorical(request, new Metadata(), deadline())),
    );
  });

  it('Registry Get, List, History and a dry-run Apply', async () => {
    const registryCall = fc.oneof(
      fc.record({
        kind: fc.constant('get' as const),
        objectType: fc.constantFrom('entity', 'feature_view', 'feature_service', '', 'x'),
        name: fc.oneof(fc.constantFrom('scores', 'user'), fc.string({ maxLength: 300 })),
      }),
      fc.record({
        kind: fc.constant('history' as const),
        name: fc.oneof(fc.constantFrom('scores', 'items'), fc.string({ maxLength: 300 })),
      }),
      fc.record({ kind: fc.constant('list' as const) }),
      fc.record({ kind: fc.constant('apply' as const), author: fc.string({ maxLength: 300 }) }),
    );
    await run('Registry', registryCall, async (call) => {
      switch (call.kind) {
        case 'get':
          return (
            await unary((done) =>
              c.registry.get({ objectType: call.objectType, name: call.name }, new Metadata(), deadline(), done),
            )
          ).code;
        case 'history':
          return (
            await unary((done) => c.registry.history({ featureView: call.name }, new Metadata(), deadline(), done))
          ).code;
        case 'list':
          return (await unary((done) => c.registry.list({}, new Metadata(), deadline(), done))).code;
        case 'apply':
          return (
            await unary((done) =>
              c.registry.apply(
                { definitions: toProtoDefinitions(REPO), dryRun: true, author: call.author, prune: true },
                new Metadata(),
                deadline(),
                done,
              ),
            )
          ).code;
      }
    });
  });

  it('Operations', async () => {
    const id = fc.oneof(fc.constantFrom('', 'none', '1'), fc.string({ maxLength: 300 }));
    const operation = fc.oneof(
      fc.record({ kind: fc.constantFrom('get' as const, 'replay' as const, 'drop' as const), id }),
      fc.record({
        kind: fc.constant('list' as const),
        limit: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constant(4_294_967_295)),
      }),
      fc.record({ kind: fc.constant('stats' as const) }),
    );
    await run('Operations', operation, async (op) => {
      switch (op.kind) {
        case 'get':
          return (await unary((done) => c.operations.getDeadLetter({ id: op.id }, new Metadata(), deadline(), done)))
            .code;
        case 'replay':
          return (await unary((done) => c.operations.replayDeadLetter({ id: op.id }, new Metadata(), deadline(), done)))
            .code;
        case 'drop':
          return (await unary((done) => c.operations.dropDeadLetter({ id: op.id }, new Metadata(), deadline(), done)))
            .code;
        case 'list':
          return (
            await unary((done) => c.operations.listDeadLetters({ limit: op.limit }, new Metadata(), deadline(), done))
          ).code;
        case 'stats':
          return (await unary((done) => c.operations.getWriteBehindStats({}, new Metadata(), deadline(), done))).code;
      }
    });
  });

  it('stores online and offline exactly the rows of the acknowledged writes', async () => {
    // Write-behind: wait until the outbox is drained into the offline store.
    for (let i = 0; i < 200 && (await c.writeBehindStats()).pendingJobs > 0n; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ids = Array.from({ length: 40 }, (_, i) => BigInt(i + 1));
    const online = await c.getOnlineFeatures({ features: ['scores:score'], entities: { user_id: ids } });
    const present = ids.filter((_, row) => online.statuses[0]?.[row] !== 'NOT_FOUND');
    expect(new Set(present)).toEqual(acknowledged.online);
    const store = await openEmbeddedOfflineStore(dataDir);
    try {
      const table = qualifiedName(store.database, tableName({ name: 'scores', version: 1 }));
      const rows = await store.executor.queryJson<{ row: string }>(
        `SELECT DISTINCT concat(toString(user_id), '@', toString(toUnixTimestamp64Milli(event_ts))) AS row FROM ${table}`,
      );
      expect(new Set(rows.map((r) => r.row))).toEqual(acknowledged.offline);
    } finally {
      await store.close();
    }
  });

  it('Materialize', async () => {
    await run('Materialize', materializeRequest, (request) =>
      streamed(c.featureStore.materialize(request, new Metadata(), deadline())),
    );
  });

  it('is still up and serving after all of it', async () => {
    const health = await c.getOnlineFeatures({ features: ['scores:score'], entities: { user_id: [1n] } });
    expect(health.refs).toEqual(['scores@1:score']);
  });
});
