/**
 * The aggregation oracle of docs/design/window-aggregations.md §1.11 / §6.2, shared by the embedded
 * and the cluster test: random arrival streams are replayed through a real server whose clock is
 * injected; at random moments q every aggregator × window is read online and held to the brute
 * force of §1 (`packages/core/test/oracle/brute-force.ts`, which imports nothing of ours) over the
 * events the server had accepted by q (A(q)). Every query (entity, q) is recorded; after the streams
 * write-behind is drained and GetHistorical is asked for all of them at once, and §1.11 is held:
 *
 * - offline(q) == brute(q, all accepted events);
 * - online(q) == offline(q) where no eligible event with ts ≤ q was first accepted after the read at
 *   q (always at each stream's final read T); where one was, the online value is exactly the brute
 *   force of all accepted events but those late arrivals.
 *
 * Tolerances as §1.10 (exact but for double sums and means; twice the bound online vs offline). The
 * harness decides eligibility from §1.3 on its own (late: ts < q − L; future: ts > q + F) and
 * expects `rows_duplicate_events` to count every eligible row whose content it had already accepted.
 *
 * Streams hold duplicates in one batch and across batches (replays, also after L), late events
 * within and beyond L, future events within F (pending until the clock passes them) and beyond F,
 * events at hop boundaries and at q itself, bursts of distinct events in one millisecond, null
 * inputs, −0 and int64 extremes, and an entity never written.
 */
import { fromColumn, toColumn, type TesseraClient } from '@tessera/client';
import type { FeatureValue } from '@tessera/core';
import { Durability, HistoricalFormat, type GetHistoricalResponse, type WriteRequest } from '@tessera/proto';
import {
  bruteAggregate,
  bruteDistinct,
  bruteKeyed,
  bruteSumTolerance,
  type BruteEvent,
  type BruteSpec,
  type BruteValue,
} from '../../packages/core/test/oracle/brute-force.js';
import {
  D,
  ENTITIES,
  F,
  FEATURES,
  G,
  GROUP_VALUES,
  L,
  SERVED,
  TYPES,
  VIEWS,
  type EventCase,
  type Op,
} from './aggregation-streams.js';

// ---- harness ----

/** The server's clock as the test moves it: starts at the real time and only moves forward. */
export interface OracleClock {
  now: number;
}

interface Row {
  readonly id: bigint;
  readonly ts: number;
  readonly values: readonly BruteValue[];
}

/** One online read of a stream's entities at q, kept for the offline comparison. */
interface QueryRecord {
  readonly q: number;
  /** The group value each entity's row asked for (grouped refs; `groupOf`). */
  readonly groups: readonly string[];
  /** How many distinct events the stream had accepted before the read (a prefix of `accepted`). */
  readonly acceptedBefore: number;
  /** Online values, [served ref][entity]. */
  readonly online: readonly (readonly unknown[])[];
}

interface StreamRecord {
  readonly base: bigint;
  readonly ops: readonly Op[];
  /** Distinct eligible events in order of first acceptance. */
  readonly accepted: readonly BruteEvent[];
  readonly queries: readonly QueryRecord[];
}

/**
 * The group value the read of entity k asks for at a stream's n-th read: every value in turn over
 * the reads (the last one no event has), so grouped refs cost no extra row or call.
 */
function groupOf(k: number, n: number): string {
  return GROUP_VALUES[(k + n) % GROUP_VALUES.length]!;
}

/** An entity's events of one group (grouped refs), or all of them. */
function ofGroup(events: readonly BruteEvent[], grouped: boolean, group: string): readonly BruteEvent[] {
  return grouped ? events.filter((e) => e.values[G] === group) : events;
}

/** The entity key as the fp's canonical bytes hold it (core/keys.ts encoding). */
export function entityKeyOf(id: bigint): string {
  return `{customer:${id}}`;
}

function identity(e: BruteEvent): string {
  return JSON.stringify([e.entityKey, e.ts, e.values.map((v) => (typeof v === 'bigint' ? `n${v}` : v === 0 ? 0 : v))]);
}

function plain(v: unknown): unknown {
  if (v instanceof BigInt64Array || v instanceof Float64Array || v instanceof Float32Array) return [...v];
  return v;
}

function isDoubleSum(spec: BruteSpec): boolean {
  return spec.input === D && (spec.fn === 'sum' || spec.fn === 'mean');
}

/** Whether `actual` is `expected` for `spec`: exact, but double sums and means within `tolerance` (§1.10). */
export function same(spec: BruteSpec, actual: unknown, expected: unknown, tolerance: number): boolean {
  if (isDoubleSum(spec) && typeof expected === 'number') {
    return typeof actual === 'number' && Math.abs(actual - expected) <= tolerance;
  }
  const a = plain(actual);
  const e = plain(expected);
  if (Array.isArray(e)) {
    return Array.isArray(a) && a.length === e.length && a.every((v, i) => Object.is(v, e[i]));
  }
  return Object.is(a, e);
}

/** A value as the failure messages print it (bigint as `12n`, −0 as `-0`). */
export function show(v: unknown): string {
  return JSON.stringify(plain(v), (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : Object.is(x, -0) ? '-0' : x));
}

function showOps(ops: readonly Op[]): string {
  return show(ops);
}

/** Entity rows per GetHistorical call: bounded requests. */
const HISTORICAL_ROWS_PER_CALL = 1_000;

/** Counts of what the oracle compared. */
export interface OracleCounts {
  /** Online values compared with the brute force, and how many of an entity with events. */
  online: number;
  onlineNonEmpty: number;
  /** Offline values compared with the brute force. */
  offline: number;
  /** Values where online == offline was asserted, and values that differed by late arrivals (checked). */
  onlineEqualsOffline: number;
  lateDifferences: number;
  /** Online values of grouped refs compared where the row's group had events. */
  groupedNonEmpty: number;
}

/**
 * Replays streams through one server (`client`, whose clock is `clock`) and keeps what it read
 * for the offline half. Entity ids are `run × 100 + k`, so streams never share an entity.
 */
export class AggregationOracle {
  readonly counts: OracleCounts = {
    online: 0,
    onlineNonEmpty: 0,
    offline: 0,
    onlineEqualsOffline: 0,
    lateDifferences: 0,
    groupedNonEmpty: 0,
  };
  readonly #client: () => TesseraClient;
  readonly #clock: OracleClock;
  readonly #streams: StreamRecord[] = [];
  readonly #viewIds = new Map<string, { id: number; version: number }>();
  #runId: number;

  /** `firstRun` keeps entity ids of several oracles on one deployment apart. */
  constructor(client: () => TesseraClient, clock: OracleClock, firstRun = 0) {
    this.#client = client;
    this.#clock = clock;
    this.#runId = firstRun;
  }

  /** Registry id and version of each view (the fp's canonical bytes start with them), after apply. */
  async loadViewIds(): Promise<void> {
    for (const view of VIEWS) {
      const got = await this.#client().get('feature_view', view.name);
      const value = got.object?.$case === 'featureView' ? got.object.value : undefined;
      this.#viewIds.set(view.name, { id: value?.id ?? 0, version: value?.version ?? 0 });
    }
  }

  /** Rows of `events` at the clock's time, for entities from `base`. */
  resolveRows(events: readonly EventCase[], base: bigint): Row[] {
    const now = this.#clock.now;
    const rows: Row[] = [];
    for (const e of events) {
      const id = base + BigInt(e.entity);
      let ts: number;
      switch (e.time.kind) {
        case 'recent':
          ts = now - e.time.back;
          break;
        case 'late':
          ts = now - L - e.time.beyond;
          break;
        case 'future':
          ts = now + e.time.ahead;
          break;
        case 'boundary':
          ts = now - (((now % e.time.hop) + e.time.hop) % e.time.hop) + e.time.k * e.time.hop + e.time.delta;
          break;
      }
      for (let c = 0; c < e.copies; c++) rows.push({ id, ts, values: e.values });
      for (let j = 0; j < e.burst; j++) {
        rows.push({ id, ts, values: [BigInt(j) * 7919n, j / 4, `b${j}`, ts - j, j % 2 === 0, `g${j % 3}`] });
      }
    }
    return rows;
  }

  /** The brute force of `spec` (served as `ref`) over `events` of one entity at t, and its §1.10 tolerance. */
  expected(ref: string, spec: BruteSpec, events: readonly BruteEvent[], t: number) {
    const ids = this.#viewIds.get(ref.slice(0, ref.indexOf(':')))!;
    const keyed = bruteKeyed(ids.id, ids.version, TYPES, events);
    return {
      value: bruteAggregate(spec, TYPES, keyed, t),
      tolerance: spec.input === D ? bruteSumTolerance(spec, keyed, t) : 0,
    };
  }

  /** Replays one stream; returns the first disagreement online, or undefined. */
  async run(ops: readonly Op[]): Promise<string | undefined> {
    const clock = this.#clock;
    const client = this.#client;
    const base = BigInt(++this.#runId) * 100n;
    const accepted: BruteEvent[] = [];
    const queries: QueryRecord[] = [];
    const seen = new Set<string>();
    const batches: Row[][] = [];
    const query = async (): Promise<string | undefined> => {
      const ids = Array.from({ length: ENTITIES }, (_, k) => base + BigInt(k));
      const groups = ids.map((_, k) => groupOf(k, queries.length));
      const got = await client().getOnlineFeatures(
        SERVED.map((s) => s.ref),
        { customer_id: ids, g: groups },
        { includeEventTimestamps: true },
      );
      queries.push({ q: clock.now, groups, acceptedBefore: accepted.length, online: got.values });
      const distinct = bruteDistinct(accepted);
      for (let k = 0; k < ids.length; k++) {
        const key = entityKeyOf(ids[k]!);
        const mine = distinct.filter((e) => e.entityKey === key);
        for (let r = 0; r < SERVED.length; r++) {
          const { ref, spec, grouped } = SERVED[r]!;
          const status = got.statuses[r]![k];
          const t = got.eventTimestamps?.[r]?.[k] ?? -1;
          if (status !== 'PRESENT' || t !== clock.now)
            return `${ref} entity ${key}: status ${status}, t ${t} at now ${clock.now}`;
          const events = ofGroup(mine, grouped, groups[k]!);
          const expected = this.expected(ref, spec, events, t);
          const actual = got.values[r]![k];
          this.counts.online++;
          if (events.length > 0) this.counts.onlineNonEmpty++;
          if (grouped && events.length > 0) this.counts.groupedNonEmpty++;
          if (!same(spec, actual, expected.value, expected.tolerance)) {
            return `${ref} (${spec.fn} ${spec.windowMillis}/${spec.hopMillis}) entity ${key}${grouped ? ` group ${groups[k]}` : ''} at ${t}: online ${show(actual)}, brute force ${show(expected.value)}`;
          }
        }
      }
      return undefined;
    };
    const write = async (rows: Row[], sync = false): Promise<string | undefined> => {
      let duplicates = 0;
      for (const row of rows) {
        if (row.ts < clock.now - L || row.ts > clock.now + F) continue; // §1.3: late or too far in the future
        const event: BruteEvent = { entityKey: entityKeyOf(row.id), ts: row.ts, values: row.values };
        const id = identity(event);
        if (seen.has(id)) duplicates++;
        else {
          seen.add(id);
          accepted.push(event);
        }
      }
      for (const view of VIEWS) {
        const response = await client().write(writeRequest(view.name, rows, sync));
        if (response.rowsDuplicateEvents !== BigInt(duplicates)) {
          return `${view.name}: rows_duplicate_events ${response.rowsDuplicateEvents}, expected ${duplicates}`;
        }
      }
      return undefined;
    };
    let problem: string | undefined;
    for (const op of ops) {
      switch (op.kind) {
        case 'write': {
          const rows = this.resolveRows(op.events, base);
          batches.push(rows);
          problem = await write(rows, op.sync);
          break;
        }
        case 'replay':
          if (batches.length > 0) problem = await write(batches[batches.length - 1 - (op.back % batches.length)]!);
          break;
        case 'advance':
          clock.now += op.millis;
          break;
        case 'query':
          problem = await query();
          break;
      }
      if (problem !== undefined) break;
    }
    if (problem === undefined) {
      clock.now += F + 1; // every pending event is due by now
      problem = await query();
    }
    // A failing stream is not compared offline (fast-check shrinks it online).
    if (problem === undefined) this.#streams.push({ base, ops, accepted, queries });
    return problem;
  }

  /**
   * The offline half, after write-behind is drained: GetHistorical for (entity, q) of every recorded
   * read. Returns every disagreement (empty when none), each with the stream that produced it.
   */
  async compareOffline(): Promise<string[]> {
    const rows: { stream: StreamRecord; query: QueryRecord; k: number }[] = [];
    for (const stream of this.#streams)
      for (const query of stream.queries) for (let k = 0; k < ENTITIES; k++) rows.push({ stream, query, k });
    const problems: string[] = [];
    for (let from = 0; from < rows.length && problems.length < 5; from += HISTORICAL_ROWS_PER_CALL) {
      const part = rows.slice(from, from + HISTORICAL_ROWS_PER_CALL);
      const columns = await this.#historical(
        part.map((r) => [r.stream.base + BigInt(r.k), r.query.q, r.query.groups[r.k]!] as const),
      );
      part.forEach((row, i) => {
        const problem = this.#compareRow(row.stream, row.query, row.k, (r) => columns[r]![i]);
        if (problem !== undefined && problems.length < 5) problems.push(problem);
      });
    }
    return problems;
  }

  #compareRow(
    stream: StreamRecord,
    query: QueryRecord,
    k: number,
    offlineOf: (r: number) => unknown,
  ): string | undefined {
    const key = entityKeyOf(stream.base + BigInt(k));
    const q = query.q;
    const all = bruteDistinct(stream.accepted).filter((e) => e.entityKey === key);
    // Eligible events of this entity with ts ≤ q first accepted after the read at q: online could not know them.
    const late = new Set(
      stream.accepted
        .slice(query.acceptedBefore)
        .filter((e) => e.entityKey === key && e.ts <= q)
        .map(identity),
    );
    const knownAll = late.size === 0 ? all : all.filter((e) => !late.has(identity(e)));
    const group = query.groups[k]!;
    for (let r = 0; r < SERVED.length; r++) {
      const { ref, spec, grouped } = SERVED[r]!;
      const offline = offlineOf(r);
      const online = query.online[r]![k];
      const expected = this.expected(ref, spec, ofGroup(all, grouped, group), q);
      const known = ofGroup(knownAll, grouped, group);
      this.counts.offline++;
      const where = () =>
        `${ref} (${spec.fn} ${spec.windowMillis}/${spec.hopMillis}) entity ${key}${grouped ? ` group ${group}` : ''} at q ${q}: online ${show(online)}, offline ${show(offline)}`;
      if (!same(spec, offline, expected.value, expected.tolerance)) {
        return `${where()}, brute force ${show(expected.value)} (stream ${showOps(stream.ops)})`;
      }
      if (late.size === 0) {
        this.counts.onlineEqualsOffline++;
        if (!same(spec, online, offline, 2 * expected.tolerance))
          return `${where()}: online != offline with no late arrival (stream ${showOps(stream.ops)})`;
      } else {
        // The difference is exactly the late-but-eligible arrivals: online is the brute force without them.
        const withoutLate = this.expected(ref, spec, known, q);
        if (!same(spec, online, withoutLate.value, withoutLate.tolerance)) {
          return `${where()}, brute force without the ${late.size} late arrivals ${show(withoutLate.value)} (stream ${showOps(stream.ops)})`;
        }
        if (!same(spec, online, offline, 2 * expected.tolerance)) this.counts.lateDifferences++;
      }
    }
    return undefined;
  }

  /** GetHistorical of every served ref at `rows`; columns in SERVED order. */
  async #historical(rows: readonly (readonly [bigint, number, string])[]): Promise<unknown[][]> {
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of this.#client().getHistorical({
      entities: {
        $case: 'rows',
        value: {
          keys: {
            customer_id: toColumn(
              'int64',
              rows.map((r) => r[0]),
            ),
          },
          eventTimestamps: rows.map((r) => BigInt(r[1])),
          passthrough: {
            g: toColumn(
              'string',
              rows.map((r) => r[2]),
            ),
          },
        },
      },
      features: SERVED.map((s) => s.ref),
      featureService: '',
      format: HistoricalFormat.HISTORICAL_FORMAT_COLUMNS,
      chunkRows: 0,
    }))
      chunks.push(chunk);
    const names = chunks[0]?.names ?? [];
    return SERVED.map(({ ref }) => {
      const name = ref.replace(':', '__');
      const i = names.indexOf(name);
      if (i < 0) throw new Error(`GetHistorical returned no column ${name} (got ${names.join(', ')})`);
      const values = chunks.flatMap((c) => fromColumn(c.columns[i]!));
      if (values.length !== rows.length)
        throw new Error(`GetHistorical returned ${values.length} rows of ${name}, asked ${rows.length}`);
      return values;
    });
  }
}

/** A Write of `rows` to `view` (live, write-behind or sync). */
export function writeRequest(view: string, rows: readonly Row[], sync = false): WriteRequest {
  const columns: WriteRequest['columns'] = {
    customer_id: toColumn(
      'int64',
      rows.map((r) => r.id),
    ),
  };
  FEATURES.forEach((name, f) => {
    columns[name] = toColumn(
      TYPES[f]!,
      rows.map((r) => (r.values[f] ?? null) as FeatureValue),
    );
  });
  return {
    featureView: view,
    columns,
    eventTimestamps: toColumn(
      'timestamp',
      rows.map((r) => r.ts),
    ),
    target: 0,
    durability: sync ? Durability.DURABILITY_SYNC : Durability.DURABILITY_UNSPECIFIED,
    idempotencyKey: '',
  };
}

export type { Row as OracleRow };
