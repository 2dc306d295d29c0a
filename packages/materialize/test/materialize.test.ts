import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeRow,
  encodeRow,
  entityKey,
  isTesseraError,
  readRowEventTs,
  viewField,
  type RegisteredView,
} from '@tessera/core';
import { ChdbExecutor, ClickHouseOfflineStore } from '@tessera/offline';
import { LmdbOnlineStore } from '@tessera/online';
import {
  inProcessRunner,
  materializeKey,
  materializePartRunner,
  materializeView,
  type MaterializeTaskProgress,
} from '../src/index.js';

// Real chDB offline store and real LMDB online store.

const T0 = Date.UTC(2026, 0, 1);
const SECOND = 1_000;

function view(name: string, id: number, ttlSeconds: number): RegisteredView {
  return {
    name,
    entities: ['user'],
    features: [
      {
        name: 'score',
        type: 'double',
        dimension: 0,
        constraints: { notNull: false, allowNaN: false },
        description: '',
        tags: {},
      },
    ],
    ttlSeconds,
    owner: 'tests',
    tags: {},
    description: '',
    id,
    version: 1,
    joinKeys: [{ name: 'user_id', type: 'int64' }],
    createdAtMillis: 0,
    updatedAtMillis: 0,
  };
}

const scores = view('mat_scores', 1, 0);
const recent = view('mat_recent', 2, 60);

let dir: string;
let offline: ClickHouseOfflineStore;
let online: LmdbOnlineStore;

/** The online value and event time of `user` in `v`, or null. */
async function onlineValue(v: RegisteredView, user: bigint): Promise<{ score: unknown; eventTs: number } | null> {
  const [[row]] = (await online.read([
    { key: entityKey(v.entities, [user]), fields: [viewField(v.id, v.version)] },
  ])) as [[Uint8Array | null]];
  return row === null ? null : { score: decodeRow(['double'], row, [0])[0], eventTs: readRowEventTs(row) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-materialize-'));
  offline = await ClickHouseOfflineStore.open({
    executor: ChdbExecutor.open({ path: join(dir, 'chdb') }),
    database: 'materialize_test',
  });
  await offline.ensureTables([scores, recent]);
  online = new LmdbOnlineStore({ path: join(dir, 'online'), sweepIntervalMillis: 0 });
  // user 1: two events in range (the later wins); user 2: only after the range; user 3: in range,
  // but online already holds a newer event.
  await offline.insert(scores, {
    joinKeyValues: [[1n], [1n], [2n], [3n]],
    eventTsMillis: Float64Array.from([T0, T0 + 5 * SECOND, T0 + 60 * SECOND, T0 + 2 * SECOND]),
    featureValues: [[1, 2, 3, 4]],
  });
  await online.write({
    field: viewField(scores.id, scores.version),
    ttlMillis: 0,
    keys: [entityKey(scores.entities, [3n])],
    rows: [encodeRow(['double'], T0 + 30 * SECOND, [40])],
  });
});

afterAll(async () => {
  await online?.close();
  await offline?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('materializeView', () => {
  it('copies the latest row of each entity in the range online and never overwrites a newer online value', async () => {
    const progress = [];
    for await (const counts of materializeView({
      offline,
      online,
      view: scores,
      startMillis: T0,
      endMillis: T0 + 10 * SECOND,
    })) {
      progress.push(counts);
    }
    expect(progress.at(-1)).toEqual({ rowsRead: 2, rowsWritten: 1 });
    expect(await onlineValue(scores, 1n)).toEqual({ score: 2, eventTs: T0 + 5 * SECOND });
    expect(await onlineValue(scores, 2n)).toBeNull();
    expect(await onlineValue(scores, 3n)).toEqual({ score: 40, eventTs: T0 + 30 * SECOND });
  });

  it('skips rows already past the view retention, reading nothing', async () => {
    await offline.insert(recent, {
      joinKeyValues: [[7n]],
      eventTsMillis: Float64Array.from([T0]),
      featureValues: [[7]],
    });
    const progress = [];
    for await (const counts of materializeView({
      offline,
      online,
      view: recent,
      startMillis: T0,
      endMillis: T0 + SECOND,
      nowMillis: T0 + 365 * 86_400 * SECOND,
    })) {
      progress.push(counts);
    }
    expect(progress).toEqual([{ rowsRead: 0, rowsWritten: 0 }]);
    expect(await onlineValue(recent, 7n)).toBeNull();
  });
});

describe('inProcessRunner', () => {
  it('ends every task with a done message carrying its final counts', async () => {
    const task = { view: scores, startMillis: T0, endMillis: T0 + 120 * SECOND };
    const seen: MaterializeTaskProgress[] = [];
    for await (const progress of inProcessRunner(offline, online)([task], new AbortController().signal)) {
      seen.push(progress);
    }
    const last = seen.at(-1);
    expect(last?.done).toBe(true);
    expect(last?.task).toBe(task);
    // Users 1 (same event again: ties go to the latest arrival) and 2 are written; user 3 stays newer online.
    expect(last && { rowsRead: last.rowsRead, rowsWritten: last.rowsWritten }).toEqual({ rowsRead: 3, rowsWritten: 2 });
    expect(materializeKey(scores)).toBe('mat_scores@1');
  });

  it('refuses with UNAVAILABLE when the server has no offline store', async () => {
    const run = inProcessRunner(undefined, online)(
      [{ view: scores, startMillis: T0, endMillis: T0 + SECOND }],
      new AbortController().signal,
    );
    let error: unknown;
    try {
      for await (const _ of run) {
        // nothing is expected
      }
    } catch (e) {
      error = e;
    }
    expect(isTesseraError(error) && error.code).toBe('UNAVAILABLE');
    expect((error as Error).message).toBe('Materialize: this server runs without an offline store');
  });
});

describe('materializePartRunner', () => {
  const findView = (name: string, version: number): Promise<RegisteredView | undefined> =>
    Promise.resolve([scores, recent].find((v) => v.name === name && v.version === version));

  it('splits a view into parts by key hash that together read every entity once', async () => {
    const run = materializePartRunner({ offline, online, findView });
    const parts = 4;
    const finals: number[] = [];
    for (let part = 0; part < parts; part++) {
      let rowsRead = 0;
      await run(
        { view: 'mat_scores', version: 1, startMillis: T0, endMillis: T0 + 120 * SECOND, part, parts },
        (counts) => {
          rowsRead = counts.rowsRead;
          return Promise.resolve();
        },
      );
      finals.push(rowsRead);
    }
    expect(finals.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('refuses a view version the registry does not hold with NOT_FOUND naming it', async () => {
    const run = materializePartRunner({ offline, online, findView });
    const failure = run(
      { view: 'mat_scores', version: 9, startMillis: T0, endMillis: T0 + SECOND, part: 0, parts: 1 },
      () => Promise.resolve(),
    );
    await expect(failure).rejects.toThrow('materialize: view mat_scores@9 is not in the registry');
    await expect(failure).rejects.toSatisfy((error: unknown) => isTesseraError(error) && error.code === 'NOT_FOUND');
  });
});
