import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('lists features with their types', async () => {
    const result = await tessera('ls', 'features');
    expect(result.stdout).toMatch(/user_features:vec\s+float_list\[2\]/);
    expect(result.stdout).toMatch(/user_features:seen_at\s+timestamp/);
  });
});
