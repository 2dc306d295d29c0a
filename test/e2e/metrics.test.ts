import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toColumn } from '@tessera/client';
import { ChdbExecutor, qualifiedName, tableName } from '@tessera/offline';
import { createLogger } from '@tessera/telemetry';
import { startWriterProcess, type WriterProcess } from '@tessera/writer';
import { BullmqMaterializer } from '@tessera/writebehind';
import { silentLogger } from '@tessera/core';
import { REPO_ROOT as ROOT, definitionsFromYaml, pollUntil, sleep } from '@tessera/testkit';
import { delta, sample, sampledNames, scrape, type Samples } from '../support/scrape.js';
import { freshBackend, startTestServer, type TestServer } from '../support/server.js';

// Metrics and logs of real servers: /metrics scraped before and after known traffic, a stale
// view's freshness, a dead letter in its gauge, background failures and internal errors as JSON
// log lines; and the Grafana dashboard checked against a real scrape.

const REPO = definitionsFromYaml({
  'repo.yaml': `
project: metrics
entities: [{ name: user, join_keys: [{ name: user_id, type: int64 }] }]
feature_views:
  - { name: scores, entities: [user], features: [{ name: s, type: double }] }
  - { name: visits, entities: [user], ttl: 1h, features: [{ name: n, type: int64 }] }
  - { name: clicks, entities: [user], features: [{ name: n, type: int64 }] }
`,
});

/** JSON lines a pino logger writes, parsed. */
function jsonLines(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const GET_ONLINE = { service: 'tessera.v1.FeatureStore', method: 'GetOnlineFeatures' };

describe('metrics and logs of an embedded server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-metrics-'));
  const log = jsonLines();
  let t: TestServer;
  let port: number;

  beforeAll(async () => {
    t = await startTestServer(
      // A view without a table fails twice, 300 ms apart, then becomes a dead letter.
      { kind: 'embedded', dataDir, writeBehind: { attempts: 2, backoffMillis: 300 } },
      { metrics: { port: 0 }, logger: createLogger({ destination: log.stream }) },
    );
    await t.client.apply(REPO);
    port = t.server.metricsPort!;
  });
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const write = (view: 'scores' | 'visits' | 'clicks', ids: readonly bigint[], eventMillis: number, nullRows = 0) =>
    t.client.write({
      featureView: view,
      columns: {
        user_id: toColumn('int64', ids),
        ...(view === 'scores'
          ? {
              s: toColumn(
                'double',
                ids.map((id, row) => (row < nullRows ? null : Number(id) / 2)),
              ),
            }
          : {
              n: toColumn(
                'int64',
                ids.map((id) => id),
              ),
            }),
      },
      eventTimestamps: toColumn(
        'timestamp',
        ids.map(() => eventMillis),
      ),
    });

  it('binds /metrics on loopback and answers 404 for any other path', async () => {
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(t.server.port);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect(await scrape(port)).toBeInstanceOf(Map);
  });

  it('counts GetOnlineFeatures calls by method and code and the values served by status', async () => {
    const now = Date.now();
    await write('scores', [1n, 2n, 3n], now - 1_000, 1); // user 1 holds a null
    await write('visits', [1n, 2n], now - 2 * 3_600_000); // older than the 1 h TTL: expired
    const before = await scrape(port);
    const calls = 3;
    for (let i = 0; i < calls; i++) {
      await t.client.getOnlineFeatures({
        features: ['scores:s', 'visits:n'],
        entities: { user_id: [1n, 2n, 3n, 99n] },
      });
    }
    await expect(
      t.client.getOnlineFeatures({ features: ['nope:x'], entities: { user_id: [1n] } }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const after = await scrape(port);

    // Per call: scores ok 2 (users 2, 3), null 1 (user 1), not_found 1 (99); visits expired 2, not_found 2.
    const served = (status: string) => delta(before, after, 'tessera_online_values_served_total', { status });
    expect(served('ok')).toBe(2 * calls);
    expect(served('null')).toBe(1 * calls);
    expect(served('not_found')).toBe(3 * calls);
    expect(served('expired')).toBe(2 * calls);
    const count = (code: string) =>
      delta(before, after, 'tessera_rpc_server_duration_seconds_count', { ...GET_ONLINE, code });
    expect(count('OK')).toBe(calls);
    expect(count('NOT_FOUND')).toBe(1);
    expect(
      delta(before, after, 'tessera_rpc_server_duration_seconds_sum', { ...GET_ONLINE, code: 'OK' }),
    ).toBeGreaterThan(0);
    // Cumulative buckets: the +Inf bucket holds every call.
    expect(
      delta(before, after, 'tessera_rpc_server_duration_seconds_bucket', { le: '+Inf', ...GET_ONLINE, code: 'OK' }),
    ).toBe(calls);
  });

  it('counts Writes and the rows the outbox drain inserts offline, with their latency', async () => {
    // Earlier writes drained first: their inserts must not land between the two scrapes.
    const drained = async () =>
      sample(await scrape(port), 'tessera_writebehind_pending_jobs', { queue: 'outbox' }) === 0;
    expect(await pollUntil(drained, 20_000)).toBe(true);
    const before = await scrape(port);
    await write('scores', [10n, 11n, 12n, 13n], Date.now() - 1_000);
    await write('scores', [14n, 15n], Date.now() - 1_000);
    const inserted = (s: Samples) => sample(s, 'tessera_offline_inserted_rows_total', { view: 'scores', version: '1' });
    let after = before;
    expect(
      await pollUntil(async () => {
        after = await scrape(port);
        return inserted(after) - inserted(before) === 6;
      }, 20_000),
    ).toBe(true);
    expect(
      delta(before, after, 'tessera_rpc_server_duration_seconds_count', {
        service: 'tessera.v1.FeatureStore',
        method: 'Write',
        code: 'OK',
      }),
    ).toBe(2);
    expect(delta(before, after, 'tessera_offline_insert_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'tessera_writebehind_pending_jobs', { queue: 'outbox' })).toBe(0);
    expect(sample(after, 'tessera_registry_version')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('shows a growing freshness age for a view nobody writes, written and served', async () => {
    await write('clicks', [1n], Date.now() - 5_000);
    await t.client.getOnlineFeatures({ features: ['clicks:n'], entities: { user_id: [1n] } });
    const age = (s: Samples, source: string) =>
      sample(s, 'tessera_view_freshness_age_seconds', { view: 'clicks', version: '1', source });
    const first = await scrape(port);
    expect(age(first, 'written')).toBeGreaterThanOrEqual(5);
    expect(age(first, 'served')).toBeGreaterThanOrEqual(5);
    await sleep(1_100);
    const second = await scrape(port);
    expect(age(second, 'written')).toBeGreaterThan(age(first, 'written'));
    expect(age(second, 'served')).toBeGreaterThan(age(first, 'served'));
  });

  it('shows a failing outbox entry in the dead-letter gauge and logs each failed attempt as JSON with its context', async () => {
    // Earlier clicks rows drained first: only the rows written below meet the missing table.
    const drained = async () =>
      sample(await scrape(port), 'tessera_writebehind_pending_jobs', { queue: 'outbox' }) === 0;
    expect(await pollUntil(drained, 20_000)).toBe(true);
    // The server's own chDB engine (one per process): a second handle on the same directory.
    const executor = ChdbExecutor.open({ path: join(dataDir, 'offline') });
    try {
      const view = await t.server.registry.findViewVersion('clicks', 1);
      await executor.command(`DROP TABLE ${qualifiedName('tessera', tableName(view!))}`);
    } finally {
      await executor.close();
    }
    const before = await scrape(port);
    await write('clicks', [7n, 8n, 9n], Date.now() - 1_000);
    let after = before;
    expect(
      await pollUntil(async () => {
        after = await scrape(port);
        return sample(after, 'tessera_writebehind_dead_letters', { queue: 'outbox' }) === 1;
      }, 20_000),
    ).toBe(true);
    expect(delta(before, after, 'tessera_writebehind_insert_failures_total', { outcome: 'retry' })).toBe(1);
    expect(delta(before, after, 'tessera_writebehind_insert_failures_total', { outcome: 'dead_letter' })).toBe(1);

    const [letter] = await t.client.listDeadLetters();
    const failures = log.lines().filter((line) => line['view'] === 'clicks' && line['component'] === 'outbox');
    expect(failures).toEqual([
      expect.objectContaining({ level: 'warn', version: 1, rows: 3, attempt: 1, attempts: 2, retry_in_ms: 300 }),
      expect.objectContaining({ level: 'error', id: letter!.id, attempt: 2, dead_letter: true }),
    ]);
    expect(failures[0]?.['error']).toMatch(/UNKNOWN_TABLE|does not exist/);
    expect(failures[1]?.['msg']).toContain(`tessera dlq show ${letter!.id}`);
    await t.client.dropDeadLetter(letter!.id);
  });

  it('answers an internal error with a generic message and an id, and logs the real error once under that id', async () => {
    // A store failing in a way no code path expects (a bug): injected, since a healthy engine fails so on no request.
    const store = t.server.store;
    const read = store.read.bind(store);
    store.read = () => Promise.reject(new Error('lmdb: /var/lib/tessera/secret/data.mdb: MDB_CORRUPTED'));
    const before = await scrape(port);
    let details = '';
    try {
      await t.client.getOnlineFeatures({ features: ['scores:s'], entities: { user_id: [1n] } });
    } catch (error) {
      details = `${(error as { code: string }).code} ${(error as Error).message}`;
    } finally {
      store.read = read;
    }
    expect(details).toMatch(/^INTERNAL internal error \(id [0-9a-f]{12}\)/);
    expect(details).not.toMatch(/lmdb|secret|MDB/);
    const id = /\(id ([0-9a-f]{12})\)/.exec(details)![1];
    const logged = log.lines().filter((line) => line['error_id'] === id);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 'error',
      method: '/tessera.v1.FeatureStore/GetOnlineFeatures',
      err: { message: 'lmdb: /var/lib/tessera/secret/data.mdb: MDB_CORRUPTED' },
    });
    const after = await scrape(port);
    expect(delta(before, after, 'tessera_store_errors_total', { store: 'online', operation: 'read' })).toBe(1);
    expect(delta(before, after, 'tessera_rpc_server_duration_seconds_count', { ...GET_ONLINE, code: 'INTERNAL' })).toBe(
      1,
    );
  });

  it('has a Grafana dashboard whose every query names a metric this server exports', async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/tessera.json'), 'utf8')) as unknown;
    const exprs: string[] = [];
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (node !== null && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'expr' && typeof value === 'string') exprs.push(value);
          else visit(value);
        }
      }
    };
    visit(dashboard);
    expect(exprs.length).toBeGreaterThan(10);
    const exported = sampledNames(await scrape(port));
    const referenced = new Set(exprs.flatMap((expr) => expr.match(/\b(?:tessera|process|nodejs)_[a-z0-9_]+/g) ?? []));
    expect(referenced.size).toBeGreaterThan(10);
    const missing = [...referenced].filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
  });
});

describe('metrics of a cluster-mode server and writer', () => {
  const { nodes } = inject('redisCluster');
  const { backend } = freshBackend('redis-cluster', nodes);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-metrics-writer-'));
  const writerLog = jsonLines();
  let t: TestServer;
  let writer: WriterProcess;

  beforeAll(async () => {
    t = await startTestServer(backend, { metrics: { port: 0 }, logger: createLogger({ level: 'silent' }) });
    await t.client.apply(REPO);
    writer = await startWriterProcess({
      nodes,
      keyPrefix: backend.kind === 'redis-cluster' ? (backend.keyPrefix ?? '') : '',
      dataDir: dir,
      metrics: { port: 0 },
      logger: createLogger({ destination: writerLog.stream }),
    });
  });
  afterAll(async () => {
    await writer?.close();
    await t?.[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the rows the writer inserts from BullMQ and reports the queue from both processes', async () => {
    const writerBefore = await scrape(writer.metricsPort!);
    const serverBefore = await scrape(t.server.metricsPort!);
    const ids = Array.from({ length: 25 }, (_, i) => BigInt(i));
    await t.client.write({
      featureView: 'scores',
      columns: { user_id: toColumn('int64', ids), s: toColumn('double', ids.map(Number)) },
      eventTimestamps: toColumn(
        'timestamp',
        ids.map(() => Date.now() - 1_000),
      ),
    });
    const inserted = (s: Samples) => sample(s, 'tessera_offline_inserted_rows_total', { view: 'scores', version: '1' });
    let writerAfter = writerBefore;
    expect(
      await pollUntil(async () => {
        writerAfter = await scrape(writer.metricsPort!);
        return inserted(writerAfter) - inserted(writerBefore) === 25;
      }, 20_000),
    ).toBe(true);
    expect(
      delta(writerBefore, writerAfter, 'tessera_offline_insert_batches_total', { view: 'scores', version: '1' }),
    ).toBe(1);
    expect(sample(writerAfter, 'tessera_writebehind_dead_letters', { queue: 'bullmq' })).toBe(0);
    const serverAfter = await scrape(t.server.metricsPort!);
    expect(
      delta(serverBefore, serverAfter, 'tessera_rpc_server_duration_seconds_count', {
        service: 'tessera.v1.FeatureStore',
        method: 'Write',
        code: 'OK',
      }),
    ).toBe(1);
    expect(serverAfter.has('tessera_writebehind_pending_jobs{queue="bullmq"}')).toBe(true);
    expect(
      sample(serverAfter, 'tessera_view_freshness_age_seconds', { view: 'scores', version: '1', source: 'written' }),
    ).toBeGreaterThan(0);
  });

  it('refuses to start a server whose metrics port is taken, naming the endpoint, while the first keeps serving', async () => {
    const taken = t.server.metricsPort!;
    const refused = await startTestServer(freshBackend('redis-cluster', nodes).backend, {
      metrics: { port: taken },
      logger: createLogger({ level: 'silent' }),
    }).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string },
    );
    expect(refused?.code).toBe('FAILED_PRECONDITION');
    expect(refused?.message).toContain(`metrics endpoint cannot listen on 127.0.0.1:${taken}`);
    // The first server's endpoint still answers.
    expect(sample(await scrape(taken), 'tessera_registry_version')).toBeGreaterThanOrEqual(1);
  });

  it('logs a Materialize part that fails on the writer at error, with the view, part and attempt', async () => {
    const keyPrefix = backend.kind === 'redis-cluster' ? (backend.keyPrefix ?? '') : '';
    const materializer = new BullmqMaterializer({ nodes, keyPrefix, parts: 1, pollMillis: 50, logger: silentLogger });
    const abort = new AbortController();
    // A view the registry does not know: the writer's part fails (NOT_FOUND) and is retried.
    const following = (async () => {
      for await (const progress of materializer.run(
        [{ view: 'ghost', version: 1, startMillis: 0, endMillis: 1_000 }],
        abort.signal,
      )) {
        void progress;
      }
    })().catch(() => undefined);
    try {
      const failed = () =>
        writerLog.lines().find((line) => line['component'] === 'materialize' && line['view'] === 'ghost');
      expect(await pollUntil(() => Promise.resolve(failed() !== undefined), 20_000)).toBe(true);
      expect(failed()).toMatchObject({
        level: 'error',
        version: 1,
        part: 0,
        parts: 1,
        attempt: 1,
        err: { message: expect.stringContaining('ghost@1 is not in the registry') as unknown },
      });
    } finally {
      abort.abort();
      await following;
      await materializer.close();
    }
  });

  it('logs a failed API key reload at warn and keeps the loaded keys in force', async () => {
    const log = jsonLines();
    const keyed = await startTestServer(freshBackend('redis-cluster', nodes).backend, {
      auth: { refreshIntervalMillis: 50 },
      logger: createLogger({ destination: log.stream }),
    });
    try {
      // The key store's connection goes away under the server: every reload now fails.
      await keyed.server.apiKeys.close();
      const reload = () => log.lines().find((line) => line['component'] === 'auth');
      expect(await pollUntil(() => Promise.resolve(reload() !== undefined), 20_000)).toBe(true);
      expect(reload()).toMatchObject({
        level: 'warn',
        msg: 'reloading API keys failed (the loaded keys stay in force)',
        err: { message: expect.any(String) as unknown },
      });
    } finally {
      await keyed[Symbol.asyncDispose]();
    }
  });
});
