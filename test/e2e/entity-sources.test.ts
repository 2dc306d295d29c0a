/**
 * Entity sources declared in the registry by an admin (issue 13): a named SELECT with typed
 * parameters that a reader calls by name with values that are bound, never spliced. One
 * authenticated server with embedded chDB: results against a brute force over the written rows,
 * an injection attempt that stays one string literal, every parameter and apply error, the CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENTITY_SOURCE_SQL_CHARS, parseRepository, silentLogger, type TesseraError } from '@tessera/core';
import { TesseraClient, fromColumn, toColumn } from '@tessera/client';
import { startFeatureServer, type FeatureServer } from '@tessera/feature-server';
import { createKey } from '@tessera/registry';
import { ChdbExecutor, MAX_ENTITY_SQL_CHARS, entitySourceParams, renderEntitySource } from '@tessera/offline';
import { ChangeKind, Durability, HistoricalFormat, WriteTarget } from '@tessera/proto';
import type { GetHistoricalRequest, GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml, pollUntil } from '@tessera/testkit';
import { freshBackend } from '../support/server.js';

const TABLE = 'tessera.fv_orders__v1';
const REPO = {
  'repo.yaml': `
project: sources
entities:
  - { name: user, join_keys: [{ name: user_id, type: int64 }] }
feature_views:
  - name: orders
    entities: [user]
    features:
      - { name: amount, type: double }
entity_sources:
  - name: orders_in_range
    description: orders of at least min_amount in [start, end)
    owner: data-team
    sql: >
      SELECT user_id, event_ts FROM ${TABLE}
      WHERE event_ts >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')
        AND event_ts < fromUnixTimestamp64Milli({end:Int64}, 'UTC')
        AND amount >= {min_amount:Float64}
    params:
      - { name: start, type: timestamp }
      - { name: end, type: timestamp }
      - { name: min_amount, type: double }
  - name: orders_tagged
    sql: >
      SELECT user_id, event_ts FROM ${TABLE}
      WHERE concat('user-', toString(user_id)) = {tag:String} AND user_id != {skip:Int64} AND {on:Bool}
    params:
      - { name: tag, type: string }
      - { name: skip, type: int64 }
      - { name: on, type: bool }
`,
};

const CLI = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'tessera.js');
const run = promisify(execFile);
const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
/** (user, event time, amount) written offline: amounts vary so min_amount filters. */
const EVENTS: [number, number, number][] = [
  [1, T0 + 1 * HOUR, 5],
  [1, T0 + 3 * HOUR, 50],
  [1, T0 + 7 * HOUR, 12],
  [2, T0 + 2 * HOUR, 20],
  [2, T0 + 26 * HOUR, 80],
  [3, T0 + 4 * HOUR, 9.5],
  [3, T0 + 5 * HOUR, 10],
  [4, T0 - HOUR, 100],
];
const INJECTION = `x'"\\\n\r\t'); DROP TABLE ${TABLE}; --`;

/** The source's rows from the written events: (user, ts, point-in-time amount), sorted. */
function bruteForce(startMillis: number, endMillis: number, minAmount: number): [number, number, number][] {
  return EVENTS.filter(([, ts, amount]) => ts >= startMillis && ts < endMillis && amount >= minAmount)
    .map(([user, ts]): [number, number, number] => {
      const latest = EVENTS.filter(([u, t]) => u === user && t <= ts).sort((a, b) => b[1] - a[1])[0]!;
      return [user, ts, latest[2]];
    })
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

describe('entity sources declared in the registry', () => {
  let server: FeatureServer;
  let cleanup: () => void;
  let reader: TesseraClient;
  let admin: TesseraClient;
  let readerToken: string;
  /** The server's own chDB engine (one data directory per process). */
  let engine: ChdbExecutor;

  beforeAll(async () => {
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    server = await startFeatureServer({
      port: 0,
      backend: fresh.backend,
      auth: { refreshIntervalMillis: 100 },
      logger: silentLogger,
    });
    engine = ChdbExecutor.open({ path: join((fresh.backend as { dataDir: string }).dataDir, 'offline') });
    await server.apply(definitionsFromYaml(REPO), { author: 'setup' });
    readerToken = (await createKey(server.apiKeys, 'reader', ['read'])).token;
    const adminToken = (await createKey(server.apiKeys, 'admin', ['admin'])).token;
    reader = new TesseraClient({ address: server.address, apiKey: readerToken, timeoutMillis: 20_000 });
    admin = new TesseraClient({ address: server.address, apiKey: adminToken, timeoutMillis: 20_000 });
    // The server sees keys made beside it at its next refresh.
    const sees = async (c: TesseraClient) =>
      c.list().then(
        () => true,
        () => false,
      );
    expect(await pollUntil(async () => (await sees(reader)) && (await sees(admin)), 5_000)).toBe(true);
    for (const [id, at, amount] of EVENTS) {
      await admin.write({
        featureView: 'orders',
        target: WriteTarget.WRITE_TARGET_OFFLINE,
        durability: Durability.DURABILITY_SYNC,
        columns: { user_id: toColumn('int64', [BigInt(id)]), amount: toColumn('double', [amount]) },
        eventTimestamps: toColumn('timestamp', [at]),
      });
    }
  }, 120_000);

  afterAll(async () => {
    await engine?.close();
    reader?.close();
    admin?.close();
    await server?.close();
    cleanup?.();
  });

  const call = (name: string, params: Record<string, string>): GetHistoricalRequest => ({
    entities: { $case: 'entitySource', value: { name, params } },
    features: ['orders:amount'],
    featureService: '',
    format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
    chunkRows: 1000,
  });

  async function rows(client: TesseraClient, request: GetHistoricalRequest): Promise<Record<string, unknown[]>> {
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of client.getHistorical(request)) chunks.push(chunk);
    const names = chunks[0]?.names ?? [];
    return Object.fromEntries(
      names.map((name, i) => [name, chunks.flatMap((c) => fromColumn(c.columns[i]!) as unknown[])]),
    );
  }

  async function failure(client: TesseraClient, request: GetHistoricalRequest): Promise<TesseraError> {
    try {
      await rows(client, request);
    } catch (error) {
      return error as TesseraError;
    }
    throw new Error('expected a failure');
  }

  /** Output rows as sorted (user, ts, amount) triples. */
  function triples(result: Record<string, unknown[]>): [number, number, number][] {
    return (result['user_id'] ?? [])
      .map((user, i): [number, number, number] => [
        Number(user as bigint),
        Number(result['event_ts']?.[i]),
        result['orders__amount']?.[i] as number,
      ])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  it('answers a read-scope key calling a source with the rows a brute force over the written rows gives', async () => {
    const cases: [number, number, number][] = [
      [T0, T0 + 24 * HOUR, 10],
      [T0 + 2 * HOUR, T0 + 30 * HOUR, 0],
      [T0 - 2 * HOUR, T0 + 100 * HOUR, 50],
      [T0 + 8 * HOUR, T0 + 9 * HOUR, 0],
      // Before the epoch and near it: bounds the engine would misread as date text.
      [Date.UTC(1960, 0, 1), 7_200_000, 0],
      [Date.UTC(1960, 0, 1), T0 + 4 * HOUR, 9],
    ];
    for (const [start, end, min] of cases) {
      const expected = bruteForce(start, end, min);
      // Start as RFC 3339, end as epoch ms: both spellings of a timestamp parameter.
      const got = await rows(
        reader,
        call('orders_in_range', { start: new Date(start).toISOString(), end: String(end), min_amount: String(min) }),
      );
      expect(triples(got), `[${start}, ${end}) >= ${min}`).toEqual(expected);
    }
    expect(bruteForce(T0, T0 + 24 * HOUR, 10).length).toBeGreaterThan(2);
    // The same key may not send SQL of its own.
    const sql = await failure(reader, {
      ...call('orders_in_range', {}),
      entities: { $case: 'entitySql', value: `SELECT user_id, event_ts FROM ${TABLE}` },
    });
    expect(sql.code).toBe('PERMISSION_DENIED');
  });

  it('binds every parameter type, and an injection string matches no row and drops nothing', async () => {
    const tagged = await rows(
      reader,
      call('orders_tagged', { tag: 'user-2', skip: '-9223372036854775808', on: 'true' }),
    );
    expect(triples(tagged)).toEqual(EVENTS.filter(([u]) => u === 2).map(([u, ts, a]) => [u, ts, a]));
    const off = await rows(reader, call('orders_tagged', { tag: 'user-2', skip: '0', on: 'false' }));
    expect(off['user_id']).toEqual([]);
    const injected = await rows(reader, call('orders_tagged', { tag: INJECTION, skip: '0', on: 'true' }));
    expect(injected['user_id']).toEqual([]);
    const all = await rows(
      reader,
      call('orders_in_range', { start: '0', end: String(T0 + 1000 * HOUR), min_amount: '0' }),
    );
    expect(all['user_id']).toHaveLength(EVENTS.length);
  });

  it('gets the injection string back from the engine as one escaped literal the SQL guard accepts', async () => {
    const source = definitionsFromYaml(REPO).entitySources![1]!;
    const params = entitySourceParams(
      source,
      new Map([
        ['tag', INJECTION],
        ['skip', '7'],
        ['on', 'true'],
      ]),
    );
    // renderEntitySource returns only what the SQL guard accepted.
    const sql = await renderEntitySource(engine, source, params, { database: 'tessera' });
    expect(sql).not.toMatch(/[\r\n]/);
    const literal = /equals\(concat\('user-', toString\(user_id\)\), ('(?:[^'\\]|\\.)*')\)/.exec(sql)?.[1];
    expect(literal).toBeDefined();
    // The literal is the whole parameter, quotes and all: the engine reads it back unchanged.
    const back = await engine.queryJson<{ v: string }>(`SELECT ${literal!} AS v`);
    expect(back[0]?.v).toBe(INJECTION);
    expect(sql.indexOf(literal!) + literal!.length).toBeGreaterThan(sql.indexOf('DROP TABLE'));
    expect(await engine.queryJson(`SELECT toString(count()) AS n FROM ${TABLE}`)).toEqual([
      { n: String(EVENTS.length) },
    ]);
  });

  it('refuses an unknown source with NOT_FOUND and bad parameters with INVALID_ARGUMENT naming them', async () => {
    const unknown = await failure(reader, call('nope', {}));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toMatch(/entity source "nope".*orders_in_range/);
    const good = { start: '2024-01-01T00:00:00Z', end: '2024-01-02T00:00:00Z', min_amount: '1.5' };
    const bad: [Record<string, string>, RegExp][] = [
      [{ start: good.start, end: good.end }, /parameter min_amount \(double\) is missing/],
      [{ ...good, limit: '3' }, /unknown parameter "limit"/],
      [{ ...good, min_amount: '1.5; DROP' }, /parameter min_amount must be a finite decimal number/],
      [{ ...good, start: 'yesterday' }, /parameter start must be an RFC 3339 time/],
      [{ ...good, end: '99999999999999' }, /parameter end must be between 1900-01-01 and 2299-12-31/],
    ];
    for (const [params, message] of bad) {
      const error = await failure(reader, call('orders_in_range', params));
      expect(error.code, JSON.stringify(params)).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(message);
    }
    const int = await failure(reader, call('orders_tagged', { tag: 'a', skip: '9223372036854775808', on: 'true' }));
    expect(int.message).toMatch(/parameter skip is outside the 64-bit integer range/);
    const bool = await failure(reader, call('orders_tagged', { tag: 'a', skip: '1', on: 'yes' }));
    expect(bool.message).toMatch(/parameter on must be true or false/);
  });

  it('refuses an apply whose source reads file() naming the source, and applies nothing', async () => {
    const before = await admin.list();
    const defs = definitionsFromYaml({
      ...REPO,
      'more.yaml': `
entity_sources:
  - name: harmless
    sql: SELECT user_id, event_ts FROM ${TABLE}
  - name: leaky
    sql: SELECT toInt64(1) AS user_id, now64(3) AS event_ts FROM file({path:String}, 'CSV', 'x String')
    params: [{ name: path, type: string }]
`,
    });
    const error = await admin.apply(defs).then(
      () => undefined,
      (e: unknown) => e as TesseraError,
    );
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toMatch(/entity source leaky: .*table function file\(\) is not allowed/);
    const dated = definitionsFromYaml({
      ...REPO,
      'more.yaml': `
entity_sources:
  - name: dated
    sql: "SELECT user_id, event_ts FROM ${TABLE} WHERE event_ts >= {start:DateTime64(3, 'UTC')}"
    params: [{ name: start, type: timestamp }]
`,
    });
    const datedError = await admin.apply(dated).then(
      () => undefined,
      (e: unknown) => e as TesseraError,
    );
    expect(datedError?.code).toBe('INVALID_ARGUMENT');
    expect(datedError?.message).toMatch(/entity source dated: a Date or DateTime parameter placeholder/);
    const after = await admin.list();
    expect(after.registryVersion).toBe(before.registryVersion);
    expect(after.entitySources.map((s) => s.name)).toEqual(['orders_in_range', 'orders_tagged']);
    const got = await reader.get('entity_source', 'orders_in_range');
    expect(got.object?.$case === 'entitySource' && got.object.value.params.map((p) => `${p.name}:${p.type}`)).toEqual([
      'start:timestamp',
      'end:timestamp',
      'min_amount:double',
    ]);
  });

  it('reports create, update, unchanged and pruned sources in apply changes', async () => {
    const defs = definitionsFromYaml(REPO);
    const sources = defs.entitySources!;
    const changed = { ...defs, entitySources: [{ ...sources[0]!, owner: 'ml-team' }] };
    const dry = await admin.apply(changed, { dryRun: true, prune: true });
    const kinds = dry.changes
      .filter((c) => c.objectType === 'entity_source')
      .map((c) => `${c.name}:${c.kind}:${c.details.join(';')}`);
    expect(kinds).toEqual([
      `orders_in_range:${ChangeKind.CHANGE_KIND_UPDATE}:owner: "data-team" -> "ml-team"`,
      `orders_tagged:${ChangeKind.CHANGE_KIND_DELETE}:deleted`,
    ]);
    const again = await admin.apply(defs, { dryRun: true });
    expect(again.changes.filter((c) => c.objectType === 'entity_source').map((c) => c.kind)).toEqual([
      ChangeKind.CHANGE_KIND_UNCHANGED,
      ChangeKind.CHANGE_KIND_UNCHANGED,
    ]);
  });

  it('reports source problems in YAML with file and path', () => {
    const { problems } = parseRepository([
      { path: 'a.yaml', text: 'project: p\n' },
      {
        path: 'src.yaml',
        text: `
entity_sources:
  - name: Bad-Name
    sql: SELECT 1
  - name: ok
    sql: "  "
    params:
      - { name: a, type: int64 }
      - { name: a, type: decimal }
      - { name: 1x, type: string }
`,
      },
    ]);
    const found = problems.map((p) => `${p.file ?? ''} ${p.path}: ${p.message}`);
    // Validation's SQL length limit is the guard's.
    expect(MAX_ENTITY_SOURCE_SQL_CHARS).toBe(MAX_ENTITY_SQL_CHARS);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^src\.yaml entity_sources\[0\]\.name: entity source name "Bad-Name"/),
        expect.stringMatching(/^src\.yaml entity_sources\[1\]\.sql: entity source ok: sql is empty/),
        expect.stringMatching(/^src\.yaml entity_sources\[1\]\.params\[1\]\.name: .*duplicate parameter name "a"/),
        expect.stringMatching(/^src\.yaml entity_sources\[1\]\.params\[1\]\.type: .*unknown type "decimal"/),
        expect.stringMatching(/^src\.yaml entity_sources\[1\]\.params\[2\]\.name: .*not a valid identifier/),
      ]),
    );
  });

  it('builds a training file from a source with the CLI and lists sources', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-sources-cli-'));
    try {
      const out = join(dir, 'train.csv');
      const env = { ...process.env, TESSERA_API_KEY: readerToken };
      const cli = (...args: string[]) => run('node', [CLI, '--server', server.address, ...args], { env });
      await cli(
        'historical',
        '--entity-source',
        'orders_in_range',
        '--param',
        `start=${new Date(T0).toISOString()}`,
        '--param',
        `end=${T0 + 24 * HOUR}`,
        '--param',
        'min_amount=10',
        '--features',
        'orders:amount',
        '--out',
        out,
      );
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines[0]).toBe('user_id,event_ts,orders__amount');
      const expected = bruteForce(T0, T0 + 24 * HOUR, 10);
      const got = lines
        .slice(1)
        .map((l) => l.split(','))
        .map(([u, ts, a]): [number, number, number] => [Number(u), Date.parse(ts!), Number(a)])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      expect(got).toEqual(expected);
      const ls = await cli('ls', 'sources');
      expect(ls.stdout).toMatch(/orders_in_range\s+start:timestamp,end:timestamp,min_amount:double\s+data-team/);
      const bad = await cli(
        'historical',
        '--entity-source',
        'orders_in_range',
        '--param',
        'nokey',
        '--features',
        'orders:amount',
        '--out',
        out,
      ).catch((e: { stderr: string }) => e);
      expect(String((bad as { stderr?: string }).stderr)).toMatch(/--param "nokey": write key=value/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
