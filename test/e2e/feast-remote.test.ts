import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient } from '@tessera/client';
import { parseRepository } from '@tessera/core';
import { openApiKeyStore, createKey } from '@tessera/registry';
import { toColumn } from '@tessera/wire';
import { WriteTarget } from '@tessera/proto';
import { type CliProcess, definitionsFromYaml, ensurePythonVenv, startCli } from '@tessera/testkit';

// The Feast drop-in: a Feast SDK (the version bench/feast pins) with `online_store: {type: remote}`
// pointed at Tessera's Feast HTTP endpoints reads and writes through Tessera. The same rows are
// written once to Tessera (gRPC) and into Feast's own SQLite online store; Feast's answers (its SDK,
// and the JSON its feature server would send) are compared with Tessera's, value for value.

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'test/e2e/feast/feast_remote.py');
const CLI = join(ROOT, 'packages/cli/bin/tessera.js');
const run = promisify(execFile);
const { nodes } = inject('redisCluster');
const keyPrefix = `fr${randomBytes(4).toString('hex')}:`;
const backend = { kind: 'redis-cluster' as const, nodes, keyPrefix };

/** What `tessera import feast` must make of the Feast repository (feast/feast_remote.py DEFINITIONS). */
const EXPECTED_IMPORT = definitionsFromYaml({
  'feast.yaml': `
project: feast_remote
entities:
  - { name: driver, description: A driver, join_keys: [{ name: driver_id, type: int64 }] }
feature_views:
  - name: driver_stats
    entities: [driver]
    ttl: 1d
    owner: rides@example.com
    source: { kind: push, location: driver_push, timestamp_field: event_timestamp }
    features:
      - { name: conv_rate, type: double }
      - { name: trips, type: int64 }
      - { name: city, type: string }
feature_services:
  - { name: driver_model, features: ['driver_stats:conv_rate', 'driver_stats:trips'] }
`,
});

interface Row {
  driver_id: number;
  conv_rate: number;
  trips: number;
  city: string | null;
  event_timestamp: number;
}

/** Whole seconds: Feast's SQLite store keeps event times to the second. */
const NOW = Math.floor(Date.now() / 1000) * 1000;
const HOUR = 3_600_000;
const ROWS: Row[] = [
  { driver_id: 1001, conv_rate: 0.25, trips: 7, city: 'Lyon', event_timestamp: NOW - HOUR },
  { driver_id: 1002, conv_rate: 0.5, trips: 0, city: 'Oslo', event_timestamp: NOW - 2 * HOUR },
  // Older than the view's TTL of one day, younger than the two TTLs the online store keeps rows.
  { driver_id: 1003, conv_rate: 0.75, trips: 3, city: 'Pune', event_timestamp: NOW - 36 * HOUR },
  // A row whose city has no value.
  { driver_id: 1005, conv_rate: 1.5, trips: 2, city: null, event_timestamp: NOW - 3 * HOUR },
];
/** 1004 was never written. */
const ASKED = [1001, 1004, 1002, 1005];
const EXPIRED = 1003;

/** A feature server's feature-named results: values, statuses and event times by feature name. */
type ByName = Record<string, { values: unknown[]; statuses: string[]; event_timestamps?: string[] }>;

function byName(body: { metadata: { feature_names: string[] }; results: ByName[string][] }): ByName {
  return Object.fromEntries(body.metadata.feature_names.map((name, i) => [name, body.results[i]!]));
}

let python: string;
let repoDir: string;
let server: CliProcess;
let client: TesseraClient;
let feastUrl: string;
let apiKey: string;
let importReport: string;

async function feast<T>(args: readonly string[]): Promise<T> {
  const { stdout } = await run(python, [SCRIPT, ...args], {
    cwd: repoDir,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, TESSERA_API_KEY: apiKey, PYTHONHASHSEED: '0' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

/** `tessera serve` on the suite's Redis Cluster with API keys and Feast's endpoints, on free ports. */
function startServer(env: NodeJS.ProcessEnv = {}): CliProcess {
  const nodeList = nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const args = ['serve', '--port', '0', '--redis-cluster', nodeList, '--key-prefix', keyPrefix, '--auth'];
  return startCli([...args, '--feast-http-port', '0'], env);
}

beforeAll(async () => {
  python = await ensurePythonVenv({
    name: 'feast',
    requirements: readFileSync(join(ROOT, 'bench/feast/requirements.txt'), 'utf8'),
    log: (message) => console.error(`feast-remote: ${message}`),
  });
  repoDir = mkdtempSync(join(tmpdir(), 'tessera-feast-remote-'));
  const keys = openApiKeyStore(backend);
  try {
    apiKey = (await createKey(keys, 'feast-sdk', ['read', 'write', 'admin'])).token;
  } finally {
    await keys.close();
  }
  server = startServer();
  const [, address] = await server.waitFor(/serving on (\S+)/);
  const [, url] = await server.waitFor(/Feast HTTP endpoints on (\S+)/);
  feastUrl = url ?? '';
  client = new TesseraClient({ address: address ?? '', apiKey, timeoutMillis: 20_000 });
  writeFileSync(join(repoDir, 'rows.json'), JSON.stringify(ROWS));
  await feast(['setup', repoDir]);
  // The Feast repository, imported: the definitions Tessera serves come from Feast's own parser.
  const outDir = join(repoDir, 'tessera');
  const imported = await run(process.execPath, [CLI, 'import', 'feast', repoDir, '--python', python, '--out', outDir], {
    timeout: 120_000,
  });
  importReport = imported.stderr;
  const parsed = parseRepository([
    { path: 'feast_remote.yaml', text: readFileSync(join(outDir, 'feast_remote.yaml'), 'utf8') },
  ]);
  expect(parsed.problems).toEqual([]);
  await client.apply(parsed.definitions!);
  await client.write({
    featureView: 'driver_stats',
    target: WriteTarget.WRITE_TARGET_ONLINE,
    columns: {
      driver_id: toColumn(
        'int64',
        ROWS.map((r) => BigInt(r.driver_id)),
      ),
      conv_rate: toColumn(
        'double',
        ROWS.map((r) => r.conv_rate),
      ),
      trips: toColumn(
        'int64',
        ROWS.map((r) => BigInt(r.trips)),
      ),
      city: toColumn(
        'string',
        ROWS.map((r) => r.city),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      ROWS.map((r) => r.event_timestamp),
    ),
  });
}, 600_000);

afterAll(async () => {
  client?.close();
  await server?.stop('SIGTERM');
  if (repoDir !== undefined) rmSync(repoDir, { recursive: true, force: true });
});

describe('tessera import feast', () => {
  it("translates the repository Feast's parser reads, and names what it left out", async () => {
    const parsed = parseRepository([
      { path: 'feast_remote.yaml', text: readFileSync(join(repoDir, 'tessera', 'feast_remote.yaml'), 'utf8') },
    ]);
    expect(parsed.definitions).toEqual(EXPECTED_IMPORT);
    expect(importReport).toContain('imported 1 entities, 1 feature views, 1 feature services');
    expect(importReport).toMatch(/not translated: on_demand_feature_views\.driver_pct: .*conv_rate_pct/);
    expect(importReport).toContain(
      "not carried over: feature_views.driver_stats.source: the push source's batch source",
    );
    // Registered and served: the server answers for the imported view.
    const registered = await client.get('feature_view', 'driver_stats');
    expect(registered.object?.$case === 'featureView' ? registered.object.value.ttlSeconds : undefined).toBe(86_400n);
  });
});

/** What test/e2e/feast/feast_remote.py `compare` prints: Feast's answers beside Tessera's. */
interface Answers {
  feast_http: { metadata: { feature_names: string[] }; results: ByName[string][] };
  tessera_http: { status: number; body: { metadata: { feature_names: string[] }; results: ByName[string][] } };
  feast_sdk: { values: Record<string, unknown[]>; statuses: Record<string, number[]> };
  remote_sdk: { values: Record<string, unknown[]>; statuses: Record<string, number[]> };
}

/** The present, missing and null-valued entities, then the expired one (last). */
const ENTITIES = [...ASKED, EXPIRED];

describe('Feast SDK with the remote online store pointed at Tessera (feast.expired: serve-stale, the default)', () => {
  let answers: Answers;

  beforeAll(async () => {
    answers = await feast(['compare', repoDir, feastUrl, JSON.stringify(ENTITIES)]);
  }, 120_000);

  it("answers /get-online-features exactly as Feast's feature server does, missing and expired entities included", () => {
    expect(answers.tessera_http.status).toBe(200);
    const feastSide = byName(answers.feast_http);
    const tesseraSide = byName(answers.tessera_http.body);
    expect(Object.keys(tesseraSide).sort()).toEqual(['city', 'conv_rate', 'driver_id', 'trips']);
    expect(tesseraSide).toEqual(feastSide);
    expect(tesseraSide.trips!.statuses).toEqual(['PRESENT', 'NOT_FOUND', 'PRESENT', 'PRESENT', 'PRESENT']);
    expect(tesseraSide.city!.values).toEqual(['Lyon', null, 'Oslo', null, 'Pune']);
  });

  it("gives the SDK's get_online_features the values and statuses of Feast's own online store", () => {
    expect(answers.remote_sdk).toEqual(answers.feast_sdk);
    // Feast's online read ignores the TTL (feast-dev/feast#6821): the expired value comes back PRESENT.
    expect(answers.remote_sdk.values.conv_rate).toEqual([0.25, null, 0.5, 1.5, 0.75]);
    // FieldStatus: 1 PRESENT, 3 NOT_FOUND, 4 OUTSIDE_MAX_AGE.
    expect(answers.remote_sdk.statuses.trips).toEqual([1, 3, 1, 1, 1]);
  });
});

describe('feast.expired: outside-max-age, the rule of the gRPC API and of Feast training sets', () => {
  let strict: CliProcess;
  let answers: Answers;

  beforeAll(async () => {
    // A second server on the same store, configured through the environment as a deployment would be.
    strict = startServer({ TESSERA_FEAST_EXPIRED: 'outside-max-age' });
    const [, url] = await strict.waitFor(/Feast HTTP endpoints on (\S+)/);
    answers = await feast(['compare', repoDir, url ?? '', JSON.stringify(ENTITIES)]);
  }, 120_000);

  afterAll(async () => {
    await strict?.stop('SIGTERM');
  });

  it("answers a value older than the view's TTL as OUTSIDE_MAX_AGE with no value, the rest as Feast does", () => {
    const last = ASKED.length;
    const feastSide = byName(answers.feast_http);
    const tesseraSide = byName(answers.tessera_http.body);
    for (const name of ['conv_rate', 'trips', 'city']) {
      expect(feastSide[name]!.statuses[last], name).toBe('PRESENT');
      expect(tesseraSide[name]!.statuses[last], name).toBe('OUTSIDE_MAX_AGE');
      expect(tesseraSide[name]!.values[last], name).toBeNull();
      expect(tesseraSide[name]!.values.slice(0, last), name).toEqual(feastSide[name]!.values.slice(0, last));
      expect(tesseraSide[name]!.statuses.slice(0, last), name).toEqual(feastSide[name]!.statuses.slice(0, last));
    }
    expect(feastSide.trips!.values[last]).toBe(3);
    expect(answers.remote_sdk.values.conv_rate).toEqual([0.25, null, 0.5, 1.5, null]);
    expect(answers.remote_sdk.statuses.trips).toEqual([1, 3, 1, 1, 4]);
  });
});

describe('writes from Feast through Tessera', () => {
  it('lands write_to_online_store and /push in Tessera, and answers an unknown view as Feast does', async () => {
    const written = { driver_id: 2001, conv_rate: 0.125, trips: 11, city: 'Kyiv', event_timestamp: NOW - HOUR };
    const pushed = { driver_id: 2002, conv_rate: 2.5, trips: 4, city: 'Lima', event_timestamp: NOW - 2 * HOUR };
    const result = await feast<{
      push_status: number;
      unknown_view: { status: number; body: string };
    }>(['write', repoDir, feastUrl, JSON.stringify({ write: [written], push: [pushed] })]);
    expect(result.push_status).toBe(200);
    expect(result.unknown_view.status).toBe(404);
    const detail = JSON.parse(result.unknown_view.body) as { module: string; class: string; message: string };
    expect(detail.module).toBe('feast.errors');
    expect(detail.message).toContain('no_such_view');

    const read = await client.getOnlineFeatures({
      features: ['driver_stats:conv_rate', 'driver_stats:trips', 'driver_stats:city'],
      entities: { driver_id: [2001, 2002] },
      includeEventTimestamps: true,
    });
    expect(read.statuses).toEqual([
      ['PRESENT', 'PRESENT'],
      ['PRESENT', 'PRESENT'],
      ['PRESENT', 'PRESENT'],
    ]);
    expect(read.values).toEqual([
      [0.125, 2.5],
      [11n, 4n],
      ['Kyiv', 'Lima'],
    ]);
    expect(read.eventTimestamps?.[0]).toEqual([written.event_timestamp, pushed.event_timestamp]);
  }, 120_000);

  it('refuses a call without an API key, and answers /health without one', async () => {
    const refused = await fetch(`${feastUrl}/get-online-features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ features: ['driver_stats:trips'], entities: { driver_id: [1001] } }),
    });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as string).includes('API key')).toBe(true);
    expect((await fetch(`${feastUrl}/health`)).status).toBe(200);
    const tooLarge = await fetch(`${feastUrl}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: 'x'.repeat(17 * 1024 * 1024),
    });
    expect(tooLarge.status).toBe(413);
  });
});
