import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraError, entityKey, parseRepository, viewField } from '@tessera/core';
import type { RegisteredView } from '@tessera/core';
import { toColumn } from '@tessera/wire';
import { WriteTarget } from '@tessera/proto';
import type { WriteRequest } from '@tessera/proto';
import { openBackends, type Backends, type BackendOptions } from '../src/backends.js';
import { DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS, executeWrite } from '../src/write.js';

// The deadline is checked just before a Write commits anything: a Write whose deadline has passed by
// then writes nothing, online or offline, and frees its idempotency key. Called here with a deadline
// already past, on the real stores of both deployments, so the case is exact rather than a race.

const REPO = `
project: deadline
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - { name: stats, entities: [customer], features: [{ name: score, type: double }] }
`;
const LIMITS = { maxBatchRows: 1_000, maxEventTimeSkewMillis: DEFAULT_MAX_EVENT_TIME_SKEW_MILLIS };

const dir = mkdtempSync(join(tmpdir(), 'tessera-deadline-'));
const kinds: [string, () => BackendOptions][] = [
  ['embedded', () => ({ kind: 'embedded', dataDir: dir })],
  [
    'redis-cluster',
    () => ({
      kind: 'redis-cluster',
      nodes: inject('redisCluster').nodes,
      keyPrefix: `d${randomBytes(4).toString('hex')}:`,
    }),
  ],
];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(kinds)('a Write past its deadline (%s)', (_, options) => {
  let backends: Backends;
  let view: RegisteredView;

  beforeAll(async () => {
    backends = await openBackends(options());
    const { definitions } = parseRepository([{ path: 'repo.yaml', text: REPO }]);
    await backends.registry.apply(definitions!, { author: 'test' });
    const found = backends.registry.get('feature_view', 'stats');
    if (found.objectType !== 'feature_view') throw new Error('no view');
    view = found.featureView;
  });
  afterAll(async () => {
    await backends.close();
  });

  const request = (id: bigint, key: string): WriteRequest => ({
    featureView: 'stats',
    columns: { customer_id: toColumn('int64', [id]), score: toColumn('double', [1.5]) },
    eventTimestamps: toColumn('timestamp', [Date.now() - 1_000]),
    target: WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE,
    durability: 0,
    idempotencyKey: key,
  });
  const online = async (id: bigint) =>
    (
      await backends.store.read([{ key: entityKey(['customer'], [id]), fields: [viewField(view.id, view.version)] }])
    )[0]?.[0];
  const stores = () => ({ ...backends, online: backends.store });

  it('writes nothing online or offline, answers DEADLINE_EXCEEDED, and frees its idempotency key', async () => {
    const pendingBefore = (await backends.writeBehind.stats()).pendingJobs;
    const insertedBefore = (await backends.writeBehind.stats()).inserted;
    const error = await executeWrite(stores(), view, request(1n, 'late'), LIMITS, Date.now() - 1).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TesseraError);
    expect((error as TesseraError).code).toBe('DEADLINE_EXCEEDED');
    expect((error as TesseraError).message).toContain('nothing was written');
    expect(await online(1n)).toBeNull();
    const stats = await backends.writeBehind.stats();
    expect(stats.pendingJobs).toBe(pendingBefore);
    expect(stats.inserted).toBe(insertedBefore);
    // The key is free: the retry writes, once.
    const retry = await executeWrite(stores(), view, request(1n, 'late'), LIMITS, undefined);
    expect(retry.rowsAppliedOnline).toBe(1n);
    expect(await online(1n)).not.toBeNull();
  });

  it('writes nothing without an idempotency key either', async () => {
    await expect(executeWrite(stores(), view, request(2n, ''), LIMITS, Date.now() - 1)).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
    });
    expect(await online(2n)).toBeNull();
  });
});
