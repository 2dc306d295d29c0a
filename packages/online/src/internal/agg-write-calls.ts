import type { ChainableCommander } from 'ioredis';
import { TesseraError, type AggregationPlan, type OnlineWriteBatch } from '@tessera/core';
import { aggLayoutOpcodes } from './agg-layout-opcodes.js';
import { AGG_WRITE_LIBRARY, DEDUP_MARGIN_MILLIS } from './agg-write-script.js';

/** The events of a batch (core's `OnlineEvents`, named through the batch). */
export type OnlineEvents = NonNullable<OnlineWriteBatch['events']>;
type OnlineGroupEvents = NonNullable<OnlineWriteBatch['groupEvents']>[number];

/** The dedup set of an entity's events of one view field and generation (design §3.1; same hash tag). */
export function eventDedupKey(entityKey: string, field: string, generation: number): string {
  return `${entityKey}:d:${field}:g${generation}`;
}

/** One entity's `agg_write` call (agg-write-2.lua's KEYS and ARGV, header of that file). */
export interface AggWriteCall {
  /** The entity hash (prefix included). */
  readonly key: string;
  /** The view field, or a group field (`<fv>~<i>~<value>`, design §1.8). */
  readonly field: string;
  /** The LWW row; empty for none (a group field's call, a rebuild). */
  readonly row: Buffer;
  readonly rowRetentionMillis: number;
  readonly nowMillis: number;
  readonly plan: AggregationPlan;
  readonly generation: number;
  readonly acceptedAtMillis: number;
  readonly latenessMillis: number;
  readonly retentionMillis: number;
  /** A rebuild G → G+1 runs: fold into both generations (design §3.6 step 1). */
  readonly dualWrite: boolean;
  /** '' or the rebuild's `ok` marker field (§3.6 step 3). */
  readonly marker: string;
  readonly records: readonly Uint8Array[];
}

/** Adds `agg_write` of the store's Functions library (FCALL; runPerNode loads a missing library). */
export function addAggWrite(pipeline: ChainableCommander, call: AggWriteCall): void {
  const { key, field, generation } = call;
  pipeline.call(
    'fcall',
    AGG_WRITE_LIBRARY.functionName,
    3,
    key,
    eventDedupKey(key, field, generation),
    eventDedupKey(key, field, generation + 1),
    field,
    call.row,
    call.rowRetentionMillis,
    call.nowMillis,
    aggLayoutOpcodes(call.plan),
    generation,
    call.acceptedAtMillis,
    call.latenessMillis,
    DEDUP_MARGIN_MILLIS,
    call.retentionMillis,
    call.dualWrite ? generation + 1 : '',
    call.marker,
    ...call.records.map(toBuffer),
  );
}

export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The script calls of grouped aggregations: per group field, per entity, its events in batch order. */
export function groupEventCalls(
  groups: readonly OnlineGroupEvents[],
  keyCount: number,
): { key: number; group: OnlineGroupEvents; records: number[] }[] {
  const calls: { key: number; group: OnlineGroupEvents; records: number[] }[] = [];
  for (const group of groups) {
    const byKey = groupEventsByKey(group.events, keyCount);
    byKey.forEach((records, key) => {
      if (records !== undefined) calls.push({ key, group, records });
    });
  }
  return calls;
}

/** Per key index, the indexes of its events in batch order (undefined for keys without events). */
export function groupEventsByKey(events: OnlineEvents, keyCount: number): (number[] | undefined)[] {
  if (events.entities.length !== events.records.length) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `event write: ${events.entities.length} event entities but ${events.records.length} records`,
    );
  }
  const out = new Array<number[] | undefined>(keyCount);
  for (let e = 0; e < events.entities.length; e++) {
    const k = events.entities[e] as number;
    if (!Number.isInteger(k) || k < 0 || k >= keyCount) {
      throw new TesseraError('INVALID_ARGUMENT', `event write: event ${e} names key ${k} of ${keyCount}`);
    }
    (out[k] ??= []).push(e);
  }
  return out;
}
