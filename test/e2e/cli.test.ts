import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'packages', 'cli', 'bin', 'tessera.js');

const GOOD_REPO = {
  'entities.yaml': `
project: cli
entities:
  - { name: user, join_keys: [{ name: user_id, type: int64 }] }
`,
  'views.yaml': `
feature_views:
  - name: user_features
    entities: [user]
    features:
      - { name: score, type: double, max: 100 }
      - { name: vec, type: float_list, dimension: 2 }
      - { name: labels, type: string_list }
      - { name: seen_at, type: timestamp }
`,
};

/** Exact ids and labels: an int64 key and feature beyond 2^53, a string feature. */
const INGEST_REPO = {
  'ingest.yaml': `
project: cli
entities:
  - { name: account, join_keys: [{ name: account_id, type: int64 }] }
feature_views:
  - name: ledger
    entities: [account]
    features:
      - { name: amount, type: int64 }
      - { name: memo, type: string }
`,
};

const BAD_REPO = {
  'entities.yaml': `
project: cli
entities:
  - { name: user, join_keys: [{ name: user_id, type: float }] }
`,
  'views.yaml': `
feature_views:
  - name: user_features
    entities: [user, ghost]
    ttl: soon
    features:
      - { name: score, type: float32 }
      - { name: score, type: double, min: 5, max: 1 }
`,
};

describe('the tessera command', () => {
  let t: TestServer;
  let cleanup: () => void;
  let dir: string;

  const tessera = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('node', [CLI, '--server', t.server.address, ...args], { cwd: dir }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
  const repo = (name: string, files: Record<string, string>) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
  });
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every problem of an invalid repository with file and path, and applies nothing', async () => {
    const result = await tessera('apply', repo('bad', BAD_REPO));
    expect(result.code).toBe(1);
    const lines = result.stderr;
    expect(lines).toContain('entities.yaml: entities[0].join_keys[0].type');
    expect(lines).toContain('views.yaml: feature_views[0].ttl');
    expect(lines).toContain('"float32"');
    expect(lines).toContain('ghost');
    expect(lines).toContain('feature_views[0].features[1]');
    expect((await tessera('ls')).stdout).not.toContain('user_features');
  });

  it('applies, writes JSONL with lists and nulls, and reads it back as JSON', async () => {
    const applied = await tessera('apply', repo('good', GOOD_REPO));
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/feature_view\s+user_features\s+create\s+1/);
    const file = join(dir, 'rows.jsonl');
    writeFileSync(
      file,
      [
        {
          user_id: 1,
          event_ts: '2025-01-01T00:00:00Z',
          score: 12.5,
          vec: [0.5, 1],
          labels: ['a', 'b'],
          seen_at: '2029-12-31T23:00:00Z',
        },
        { user_id: 2, event_ts: 1735689600000, score: null, vec: [0, 0], labels: [] },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const written = await tessera('write', 'user_features', file);
    expect(written.stdout).toContain('wrote 2 rows to user_features@1: 2 applied online');
    const got = await tessera('get', 'user_features:*', '--entity', 'user_id=1,2,3', '--json');
    expect(JSON.parse(got.stdout)).toEqual([
      {
        user_id: 1,
        'user_features:score': 12.5,
        'user_features:vec': [0.5, 1],
        'user_features:labels': ['a', 'b'],
        'user_features:seen_at': '2029-12-31T23:00:00.000Z',
        status: {
          'user_features:score': 'PRESENT',
          'user_features:vec': 'PRESENT',
          'user_features:labels': 'PRESENT',
          'user_features:seen_at': 'PRESENT',
        },
      },
      {
        user_id: 2,
        'user_features:score': null,
        'user_features:vec': [0, 0],
        'user_features:labels': [],
        'user_features:seen_at': null,
        status: {
          'user_features:score': 'PRESENT',
          'user_features:vec': 'PRESENT',
          'user_features:labels': 'PRESENT',
          'user_features:seen_at': 'PRESENT',
        },
      },
      {
        user_id: 3,
        'user_features:score': null,
        'user_features:vec': null,
        'user_features:labels': null,
        'user_features:seen_at': null,
        status: {
          'user_features:score': 'NOT_FOUND',
          'user_features:vec': 'NOT_FOUND',
          'user_features:labels': 'NOT_FOUND',
          'user_features:seen_at': 'NOT_FOUND',
        },
      },
    ]);
  });

  it('names the file, record and column of a cell it cannot read, and writes nothing', async () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(file, 'user_id,event_ts,score\n10,2025-01-01T00:00:00Z,1\n11,2025-01-01T00:00:00Z,lots\n');
    const result = await tessera('write', 'user_features', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('record 3, column score: "lots" is not a double');
    expect(result.stderr).toContain('; nothing was acknowledged');
    const got = await tessera('get', 'user_features:score', '--entity', 'user_id=10', '--json');
    expect((JSON.parse(got.stdout) as { status: Record<string, string> }[])[0]!.status['user_features:score']).toBe(
      'NOT_FOUND',
    );
  });

  it('backfills offline only with --sync, then materializes it online, and refuses bad materialize options', async () => {
    const applied = await tessera('apply', repo('good', GOOD_REPO));
    expect(applied.code, applied.stderr).toBe(0);
    const file = join(dir, 'history.csv');
    writeFileSync(
      file,
      'user_id,event_ts,score\n41,2020-01-01T00:00:00Z,1\n41,2020-01-02T00:00:00Z,2\n42,2020-01-01T00:00:00Z,3\n',
    );
    const written = await tessera('write', 'user_features', file, '--target', 'offline', '--sync');
    expect(written.stdout, written.stderr).toContain('wrote 3 rows to user_features@1, offline only');
    const materialized = await tessera('materialize', 'user_features', '--start', '2020-01-01', '--end', '2020-02-01');
    expect(materialized.stdout, materialized.stderr).toContain(
      'materialized user_features@1: 2 entities read, 2 written online, 0 kept (fresher online)',
    );
    const got = await tessera('get', 'user_features:score', '--entity', 'user_id=41,42', '--json');
    expect((JSON.parse(got.stdout) as Record<string, unknown>[]).map((r) => r['user_features:score'])).toEqual([2, 3]);

    const both = await tessera('materialize', 'user_features', '--incremental', '--start', '2020-01-01');
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('--incremental takes no --start');
    const badTime = await tessera('materialize', 'user_features', '--start', 'yesterday');
    expect(badTime.code).not.toBe(0);
    expect(badTime.stderr).toContain('--start "yesterday" is not a time');
    const neither = await tessera('materialize', 'user_features');
    expect(neither.stderr).toContain('give --start');
    const syncAndReplicated = await tessera('write', 'user_features', file, '--sync', '--replicated');
    expect(syncAndReplicated.stderr).toContain('--sync and --replicated cannot be combined');
  });

  it('reports an unknown ref as NOT_FOUND naming it', async () => {
    const result = await tessera('get', 'user_features:nope', '--entity', 'user_id=1');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('NOT_FOUND');
    expect(result.stderr).toContain('user_features:nope');
  });

  it('accepts CSV event times as integer epoch milliseconds and names the accepted forms when one is not a time', async () => {
    expect((await tessera('apply', repo('ingest', INGEST_REPO))).code).toBe(0);
    const file = join(dir, 'epoch.csv');
    writeFileSync(file, 'account_id,event_ts,amount\n1,1709287200000,5\n2,2024-03-01T10:00:00Z,6\n');
    const written = await tessera('write', 'ledger', file);
    expect(written.stdout, written.stderr).toContain('wrote 2 rows to ledger@1: 2 applied online');
    const got = await tessera('get', 'ledger:amount', '--entity', 'account_id=1,2', '--timestamps');
    expect(got.stdout.match(/2024-03-01T10:00:00.000Z/g)).toHaveLength(2);

    writeFileSync(file, 'account_id,event_ts,amount\n3,1709287200000.5,5\n');
    const bad = await tessera('write', 'ledger', file);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('record 2, column event_ts: "1709287200000.5" is not a timestamp: use ');
    expect(bad.stderr).toContain('integer epoch milliseconds');
  });

  it('keeps JSONL int64 values beyond 2^53 exact, and refuses one already rounded, naming record and column', async () => {
    expect((await tessera('apply', repo('ingest', INGEST_REPO))).code).toBe(0);
    const file = join(dir, 'big.jsonl');
    // Written by hand: JSON.stringify cannot write these numbers.
    writeFileSync(
      file,
      '{"account_id": 9007199254740993, "event_ts": 1709287200000, "amount": 12345678901234567, "memo": 9223372036854775807}\n' +
        '{"account_id": "-9223372036854775808", "event_ts": "2024-03-01T10:00:00Z", "amount": -9007199254740995}\n',
    );
    const written = await tessera('write', 'ledger', file);
    expect(written.stdout, written.stderr).toContain('wrote 2 rows to ledger@1');
    const got = await tessera(
      'get',
      'ledger:amount,ledger:memo',
      '--entity',
      'account_id=9007199254740993,-9223372036854775808',
      '--json',
    );
    expect(
      (JSON.parse(got.stdout) as Record<string, unknown>[]).map((r) => [
        r['account_id'],
        r['ledger:amount'],
        r['ledger:memo'],
      ]),
    ).toEqual([
      ['9007199254740993', '12345678901234567', '9223372036854775807'],
      ['-9223372036854775808', '-9007199254740995', null],
    ]);

    writeFileSync(file, '{"account_id": 7, "event_ts": 1709287200000, "amount": 9007199254740993.0}\n');
    const rounded = await tessera('write', 'ledger', file);
    expect(rounded.code).toBe(1);
    expect(rounded.stderr).toMatch(/record 1, column amount: 9007199254740992 is not an int64 exactly \(beyond 2\^53/);
    const outOfRange = join(dir, 'range.jsonl');
    writeFileSync(outOfRange, '{"account_id": 9223372036854775808, "event_ts": 1709287200000}\n');
    const range = await tessera('write', 'ledger', outOfRange);
    expect(range.stderr).toContain('column account_id: 9223372036854775808 is not an int64 (out of the int64 range)');
    const none = await tessera('get', 'ledger:amount', '--entity', 'account_id=7', '--json');
    expect((JSON.parse(none.stdout) as { status: Record<string, string> }[])[0]?.status['ledger:amount']).toBe(
      'NOT_FOUND',
    );
  });

  it('passes the label columns of an entity CSV through byte for byte', async () => {
    expect((await tessera('apply', repo('ingest', INGEST_REPO))).code).toBe(0);
    const entities = join(dir, 'labels.csv');
    writeFileSync(
      entities,
      '\uFEFFaccount_id, event_ts ,zip,big_id,note,flag\n' +
        '1, 1709287200000 ,02139,12345678901234567890, two  spaces ,true\n' +
        '2,2024-03-02T00:00:00Z,00501,00000000000000000001,,1.50\n',
    );
    const out = join(dir, 'train.csv');
    const result = await tessera('historical', '--entities', entities, '--features', 'ledger:amount', '--out', out);
    expect(result.code, result.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('account_id,event_ts,zip,big_id,note,flag,ledger__amount');
    expect(lines[1]?.split(',').slice(0, 6)).toEqual([
      '1',
      '2024-03-01T10:00:00.000Z',
      '02139',
      '12345678901234567890',
      ' two  spaces ',
      'true',
    ]);
    expect(lines[2]?.split(',').slice(0, 6)).toEqual([
      '2',
      '2024-03-02T00:00:00.000Z',
      '00501',
      '00000000000000000001',
      '',
      '1.50',
    ]);
  });

  it('prints the write-behind queue figures without an empty header line', async () => {
    const result = await tessera('queue');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^pending jobs\s+\d+$/);
    expect(lines.every((line) => /^[a-z ]+\S*\s{2,}\S/.test(line))).toBe(true);
  });

  it('lists features with their types', async () => {
    const result = await tessera('ls', 'features');
    expect(result.stdout).toMatch(/user_features:vec\s+float_list\[2\]/);
    expect(result.stdout).toMatch(/user_features:seen_at\s+timestamp/);
  });
});

describe('tessera write when the server goes away mid-file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-gone-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 1 with one line saying how many rows were acknowledged, and every one of them is stored', async () => {
    const repoDir = join(dir, 'repo');
    mkdirSync(repoDir);
    writeFileSync(join(repoDir, 'ingest.yaml'), INGEST_REPO['ingest.yaml']);
    const rows = 200_000;
    const file = join(dir, 'many.csv');
    let text = 'account_id,event_ts,amount\n';
    for (let i = 0; i < rows; i++) text += `${i},${1_709_287_200_000 + i},${i}\n`;
    writeFileSync(file, text);
    const dataDir = join(dir, 'data');
    const first = await startServeProcess(['--data-dir', dataDir, '--apply', repoDir]);
    await first.process.waitFor(/applied/);
    const address = /serving on (\S+)/.exec(first.process.output())?.[1] ?? '';
    const write = new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        'node',
        [CLI, '--server', address, 'write', 'ledger', file, '--batch-rows', '500'],
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }),
      );
    });
    // Once the first batch is stored, the server dies.
    await expect
      .poll(
        async () =>
          (await first.client.getOnlineFeatures({ features: ['ledger:amount'], entities: { account_id: [0n] } }))
            .statuses[0]?.[0],
        { timeout: 30_000, interval: 10 },
      )
      .toBe('PRESENT');
    first.client.close();
    await first.process.stop('SIGKILL');
    const result = await write;
    expect(result.code).toBe(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    const match =
      /^tessera: UNAVAILABLE: write to ledger@1 stopped: .*; (\d+) rows were acknowledged before it; the rest, from record (\d+) of .*many\.csv, was not$/.exec(
        lines[0] ?? '',
      );
    expect(match, lines[0]).not.toBeNull();
    const acknowledged = Number(match?.[1]);
    expect(acknowledged % 500).toBe(0);
    expect(acknowledged).toBeGreaterThan(0);
    expect(acknowledged).toBeLessThan(rows);
    expect(Number(match?.[2])).toBe(acknowledged + 2);

    // Every acknowledged row survived the kill.
    const second = await startServeProcess(['--data-dir', dataDir]);
    try {
      const ids = Array.from({ length: acknowledged }, (_, i) => BigInt(i));
      const read = await second.client.getOnlineFeatures({
        features: ['ledger:amount'],
        entities: { account_id: ids },
      });
      expect(read.statuses[0]?.filter((s) => s !== 'PRESENT')).toEqual([]);
    } finally {
      second.client.close();
      await second.process.stop('SIGTERM');
    }
  });
});
