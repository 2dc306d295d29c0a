import { expect } from 'vitest';
import { toColumn } from '@tessera/client';
import type { TesseraClient } from '@tessera/client';
import { ChdbExecutor, DEFAULT_OFFLINE_DATABASE, type ClickHouseExecutor } from '@tessera/offline';
import { Durability, WriteTarget, type WriteRequest } from '@tessera/proto';
import { definitionsFromYaml } from '@tessera/testkit';

/**
 * A write load whose every row is identifiable: Write `w` carries users `w*10 … w*10+9`, each with
 * one event at `T0 + w` ms. Counting rows per user in the offline table then tells, for every Write,
 * whether it is present and how many times.
 */
export const ROWS_PER_WRITE = 10;
const T0 = Date.UTC(2026, 0, 1);

/** The events repository as YAML (tests extend it with more views). */
export const EVENTS_YAML = `
project: writebehind
entities: [{ name: user, join_keys: [{ name: user_id, type: int64 }] }]
feature_views:
  - name: events
    entities: [user]
    features: [{ name: amount, type: double }]
`;

export const EVENTS_REPO = definitionsFromYaml({ 'repo.yaml': EVENTS_YAML });

export const EVENTS_TABLE = `${DEFAULT_OFFLINE_DATABASE}.fv_events__v1`;

/** The Write request of write number `w` (online and offline). */
export function writeRequest(w: number, durability = Durability.DURABILITY_UNSPECIFIED): WriteRequest {
  const users = Array.from({ length: ROWS_PER_WRITE }, (_, i) => BigInt(w * ROWS_PER_WRITE + i));
  return {
    featureView: 'events',
    target: WriteTarget.WRITE_TARGET_UNSPECIFIED,
    durability,
    idempotencyKey: '',
    columns: { user_id: toColumn('int64', users), amount: toColumn('double', users.map(Number)) },
    eventTimestamps: toColumn(
      'timestamp',
      users.map(() => T0 + w),
    ),
  };
}

export function writeNumber(client: TesseraClient, w: number, durability = Durability.DURABILITY_UNSPECIFIED) {
  return client.write(writeRequest(w, durability));
}

export interface LoadResult {
  /** Writes sent. */
  sent: number;
  /** Writes the server acknowledged. */
  readonly acknowledged: number[];
  /** Writes that failed (not acknowledged). */
  failed: number;
  /** When present, the message of every failure is added here (for assertion messages). */
  readonly errors?: string[];
}

/**
 * Sends Writes numbered from `load.sent` with `concurrency` in flight until `until()` holds, `maxWrites`
 * were sent or `maxMillis` passed. Failures are counted, never thrown: a killed server fails writes.
 */
export async function runWriteLoad(
  client: () => TesseraClient,
  load: LoadResult,
  options: {
    concurrency: number;
    maxWrites: number;
    maxMillis: number;
    until?: () => boolean;
    durability?: Durability;
  },
): Promise<void> {
  const deadline = Date.now() + options.maxMillis;
  const last = load.sent + options.maxWrites;
  const worker = async (): Promise<void> => {
    while (load.sent < last && Date.now() < deadline && !(options.until?.() ?? false)) {
      const w = load.sent++;
      try {
        await writeNumber(client(), w, options.durability);
        load.acknowledged.push(w);
      } catch (error) {
        load.failed++;
        load.errors?.push(`write ${w}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}

/** Rows per user in the offline events table. */
export async function offlineRowsPerUser(executor: ClickHouseExecutor): Promise<Map<number, number>> {
  const rows = await executor.queryJson<{ u: string; n: string }>(
    `SELECT toString(user_id) AS u, toString(count()) AS n FROM ${EVENTS_TABLE} GROUP BY user_id`,
  );
  return new Map(rows.map((r) => [Number(r.u), Number(r.n)]));
}

/** Opens the chDB directory a stopped server or writer used and counts its rows per user. */
export async function offlineRowsPerUserIn(chdbDir: string): Promise<Map<number, number>> {
  const executor = ChdbExecutor.open({ path: chdbDir });
  try {
    return await offlineRowsPerUser(executor);
  } finally {
    await executor.close();
  }
}

/**
 * The accounting: writes sent, acknowledged, present offline, duplicates. Asserts that every
 * acknowledged Write is present whole and that no row is there twice (an unacknowledged Write may be
 * present, once). Returns the summary line for the test log.
 */
export function assertExactlyOnce(
  label: string,
  load: LoadResult,
  rowsPerUser: ReadonlyMap<number, number>,
  presentOnline: number,
): string {
  let duplicates = 0;
  for (const count of rowsPerUser.values()) if (count > 1) duplicates++;
  const present = new Set<number>();
  for (const user of rowsPerUser.keys()) present.add(Math.floor(user / ROWS_PER_WRITE));
  const missing = load.acknowledged.filter((w) => {
    for (let i = 0; i < ROWS_PER_WRITE; i++) if (!rowsPerUser.has(w * ROWS_PER_WRITE + i)) return true;
    return false;
  });
  const line =
    `${label}: sent ${load.sent}, acknowledged ${load.acknowledged.length}, failed ${load.failed}, ` +
    `present online ${presentOnline}, present offline ${present.size}, duplicates ${duplicates}`;
  console.log(line);
  expect(missing, `acknowledged writes missing offline (${line})`).toEqual([]);
  expect(presentOnline, `acknowledged writes missing online (${line})`).toBeGreaterThanOrEqual(
    load.acknowledged.length,
  );
  expect(duplicates, line).toBe(0);
  return line;
}

/** How many of the acknowledged writes are online (their first user PRESENT). */
export async function acknowledgedOnline(client: TesseraClient, load: LoadResult): Promise<number> {
  if (load.acknowledged.length === 0) return 0;
  const users = load.acknowledged.map((w) => BigInt(w * ROWS_PER_WRITE));
  const result = await client.getOnlineFeatures({ features: ['events:amount'], entities: { user_id: users } });
  return (result.statuses[0] ?? []).filter((s) => s === 'PRESENT').length;
}
