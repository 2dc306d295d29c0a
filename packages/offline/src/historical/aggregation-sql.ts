/**
 * SQL of window aggregations in GetHistorical (design §4.2): per event view with requested
 * aggregations, one range-join subquery grouped by entity row, LEFT JOINed to the entity rows on
 * the row id inside the one historical query. It yields each aggregation's intermediate result
 * (IR) columns; `aggregation-finalize.ts` turns them into values with core's finalize functions.
 *
 * - Events: the view's **main** table `FINAL` (eligible events only, copies of one fingerprint
 *   collapsed; every filter is on sorting-key columns, so FINAL is safe), pruned to the rows' keys
 *   and to `[min(ts) − max(W + h), max(ts)]` (no lower bound when an unbounded aggregation is asked).
 * - Entity rows are the right (hash) side; the events stream through the join on the join keys,
 *   and a pair counts for an aggregation when `start(t) ≤ e.ts ≤ t` (§1.4, both ends inclusive,
 *   `start(t) = floor(t − W, h)` spelled as in core's `window.ts`).
 * - Unbounded windows use the same range join (no lower bound). Decided in increment 4: the running
 *   aggregates + ASOF variant of §4.2 is a second plan for the same numbers; it is left for when the
 *   bench shows long histories dominate (the range join reads a key's whole history per row).
 * - Identifiers come from the registry (quoted), window lengths and hops are integers from the
 *   registry; nothing from the request enters the text. Times are read from the entity table.
 */
import { TesseraError, type AggregationSpec, type RegisteredView } from '@tessera/core';
import { FP_COLUMN, qualifiedName, quoteIdentifier, tableName } from '../ddl.js';
import { EVENT_TS, ROW_ID_COLUMN, unboundInteger } from './entities.js';

/** The column of the aggregation subquery holding the entity row id. */
export const AGG_ROW = '__row';

/** One IR column of an aggregation: its SQL over the grouped pairs, and its name in the subquery. */
export interface IrColumn {
  readonly alias: string;
  readonly sql: string;
}

/** One requested aggregation and the IR columns its finalize reads, in order. */
export interface AggregationIr {
  readonly spec: AggregationSpec;
  readonly irs: readonly IrColumn[];
}

/** `floor(t − W, h)` on Int64 milliseconds, as core's `windowStart`. */
function startExpression(t: string, windowMillis: number, hopMillis: number): string {
  const w = unboundInteger(windowMillis);
  const h = unboundInteger(hopMillis);
  const x = `(${t} - ${w})`;
  return `(${x} - (((${x} % ${h}) + ${h}) % ${h}))`;
}

/**
 * The §1.9 (bucket, rho) of an input column at precision p, as `bucket * 64 + rho` (core's HllCode).
 * `text` is the input's canonical text: a string as is, an int64 as its decimal `toString`.
 */
export function hllCodeExpression(text: string, p: number): string {
  const h = `reinterpretAsUInt64(reverse(substring(SHA256(${text}), 1, 8)))`;
  const bucket = `toInt64(bitShiftRight(${h}, ${unboundInteger(64 - p)}))`;
  const w = `bitOr(bitShiftLeft(${h}, ${unboundInteger(p)}), toUInt64(${unboundInteger(2 ** (p - 1))}))`;
  // clz64(w) = 64 − bitCount(smear(w)); smear copies the top 1-bit into every lower bit.
  let m = w;
  for (const shift of [1, 2, 4, 8, 16, 32]) m = `bitOr(${m}, bitShiftRight(${m}, ${shift}))`;
  return `(${bucket} * 64 + toInt64(65 - bitCount(${m})))`;
}

/** What one view's aggregation subquery needs: the view, its requested specs, and its keys. */
export interface AggregationSource {
  readonly database: string;
  readonly view: RegisteredView;
  readonly specs: readonly AggregationSpec[];
  /** The view's join keys, quoted, with the entity table column each matches. */
  readonly keys: readonly { readonly name: string; readonly column: string }[];
  /**
   * Grouped aggregations (§1.8, every spec grouped by this one feature): the group feature, quoted,
   * and the entity table column carrying each row's group value (`x.category = r.category`, §4.2).
   */
  readonly group?: { readonly name: string; readonly column: string };
}

/** The IR columns of every spec, and the events subquery's extra columns they read. */
export function aggregationIrs(source: AggregationSource): {
  irs: AggregationIr[];
  eventColumns: string[];
  /** `start(t) AS __s<j>` of each distinct window, over the entity subquery's `__t`. */
  starts: string[];
  /** Whether every spec is bounded (the events then get a lower time bound). */
  bounded: boolean;
} {
  const { view, specs } = source;
  const eventColumns = new Map<string, string>();
  const windows = new Map<string, string>();
  const starts: string[] = [];
  const inputOf = (spec: AggregationSpec): string => {
    const input = spec.input;
    if (input === null) throw new TesseraError('INTERNAL', `aggregation ${spec.function} of ${view.name} has no input`);
    const feature = view.features[input.index];
    if (feature === undefined) throw new TesseraError('INTERNAL', `view ${view.name} has no feature #${input.index}`);
    const alias = `__i${input.index}`;
    if (eventColumns.has(alias)) return alias;
    const quoted = quoteIdentifier(feature.name);
    // Timestamps as Int64 ms; doubles + 0 turn −0 into +0 (§1.7: −0 is +0 for aggregated inputs).
    const sql =
      input.type === 'timestamp'
        ? `toUnixTimestamp64Milli(${quoted})`
        : input.type === 'double'
          ? `(${quoted} + 0.)`
          : quoted;
    eventColumns.set(alias, `${sql} AS ${alias}`);
    return alias;
  };
  const windowOf = (spec: AggregationSpec): string => {
    if (spec.windowMillis === 0) return '1';
    const key = `${spec.windowMillis}/${spec.hopMillis}`;
    const existing = windows.get(key);
    if (existing !== undefined) return existing;
    // Computed once per entity row (in the entity subquery), not per pair.
    const alias = `__s${starts.length}`;
    starts.push(`${startExpression('__t', spec.windowMillis, spec.hopMillis)} AS ${alias}`);
    const cond = `(x.__ts >= r.${alias})`;
    windows.set(key, cond);
    return cond;
  };
  let next = 0;
  const ir = (sql: string): IrColumn => ({ alias: `__ir${next++}`, sql });
  const irs = specs.map((spec): AggregationIr => {
    const inWindow = windowOf(spec);
    if (spec.function === 'count' && spec.input === null) return { spec, irs: [ir(`toInt64(countIf(${inWindow}))`)] };
    if (spec.function === 'first_ts' || spec.function === 'last_ts') {
      const fn = spec.function === 'first_ts' ? 'minIf' : 'maxIf';
      return { spec, irs: [ir(`if(countIf(${inWindow}) > 0, ${fn}(x.__ts, ${inWindow}), NULL)`)] };
    }
    const input = inputOf(spec);
    const v = `x.${input}`;
    const cond = `${inWindow} AND isNotNull(${v})`;
    const present = `countIf(${cond}) > 0`;
    switch (spec.function) {
      case 'count':
        return { spec, irs: [ir(`toInt64(countIf(${cond}))`)] };
      case 'sum':
      case 'mean': {
        const sum =
          spec.input?.type === 'int64'
            ? `sumWithOverflowIf(assumeNotNull(${v}), ${cond})`
            : `sumIf(assumeNotNull(${v}), ${cond})`;
        return { spec, irs: spec.function === 'sum' ? [ir(sum)] : [ir(sum), ir(`toInt64(countIf(${cond}))`)] };
      }
      case 'min':
      case 'max':
        return { spec, irs: [ir(`if(${present}, ${spec.function}If(assumeNotNull(${v}), ${cond}), NULL)`)] };
      case 'last':
        return {
          spec,
          irs: [ir(`if(${present}, argMaxIf(assumeNotNull(${v}), (x.__ts, x.__fp), ${cond}), NULL)`)],
        };
      case 'last_n':
        // The n greatest (ts, fp), newest first (ties by fp descending, as online).
        return {
          spec,
          irs: [
            ir(
              `arrayMap(z -> z.3, arraySlice(arrayReverseSort(groupArrayIf((x.__ts, x.__fp, assumeNotNull(${v})), ${cond})), 1, ${unboundInteger(spec.n)}))`,
            ),
          ],
        };
      case 'approx_distinct': {
        const alias = `${input}_p${spec.precision}`;
        const text = spec.input?.type === 'int64' ? `toString(assumeNotNull(${input}))` : `assumeNotNull(${input})`;
        eventColumns.set(alias, `${hllCodeExpression(text, spec.precision)} AS ${alias}`);
        // The events' codes, greatest first: a bucket's first code is its register (codes of one
        // bucket differ only in rho). groupArray and not maxMap: maxMapIf built two arrays per
        // pair and cost 2.5 s of CPU on the 1M-event bench, groupArrayIf 0.4 s.
        const codes = `arrayReverseSort(groupArrayIf(x.${alias}, ${cond}))`;
        // Each code's predecessor (−64 before the first: bucket −1); no lambda captures an array, as a
        // captured column is copied once per element.
        const previous = `arraySlice(arrayPushFront(${codes}, toInt64(-64)), 1, length(${codes}))`;
        const rhos = `arrayMap(c -> c % 64, arrayFilter((c, b) -> intDiv(c, 64) != intDiv(b, 64), ${codes}, ${previous}))`;
        // The registers' histogram (core's hllEstimateFromHistogram): [zero registers, registers
        // holding 1, …, holding the greatest rho]; as Float64 (counts ≤ 2^14 are exact).
        const m = unboundInteger(2 ** spec.precision);
        const histogram =
          `arrayMap(k -> toFloat64(if(k = 0, ${m} - length(${rhos}), countEqual(${rhos}, k))), ` +
          `range(toUInt64(arrayMax(${rhos})) + 1))`;
        return { spec, irs: [ir(histogram)] };
      }
    }
  });
  const bounded = specs.every((s) => s.windowMillis > 0);
  return { irs, eventColumns: [...eventColumns.values()], starts, bounded };
}

/**
 * The `LEFT JOIN (…) AS alias ON alias.__row = e.row_id` clause of one view's aggregations over
 * the entity rows of `rows` (a table or a parenthesised SELECT), the events pruned further by
 * `extra` conditions on the view's own columns (the key-range plan's range).
 */
export function aggregationJoinClause(
  source: AggregationSource,
  compiled: ReturnType<typeof aggregationIrs>,
  alias: string,
  entityAlias: string,
  rows: string,
  extra: readonly string[] = [],
): string {
  const { database, view, specs, keys, group } = source;
  const { irs, eventColumns, starts, bounded } = compiled;
  const keyList = keys.map((k) => k.name).join(', ');
  const entityKeyList = keys.map((k) => k.column).join(', ');
  const ts = quoteIdentifier(EVENT_TS);
  const conditions = [
    ...extra,
    `(${keyList}) IN (SELECT ${entityKeyList} FROM ${rows})`,
    `${ts} <= (SELECT max(${EVENT_TS}) FROM ${rows})`,
  ];
  if (bounded) {
    // start(t) ≥ t − W − h + 1 for every spec: one bound below the earliest row's window.
    const reach = Math.max(...specs.map((s) => s.windowMillis + s.hopMillis));
    conditions.push(
      `toUnixTimestamp64Milli(${ts}) >= (SELECT toUnixTimestamp64Milli(min(${EVENT_TS})) FROM ${rows}) - ${unboundInteger(reach)}`,
    );
  }
  // A grouped subquery joins on the group value too: a row's value is that group's (§1.8).
  const groupEvent = group === undefined ? '' : `, ${group.name} AS __g`;
  const groupRow = group === undefined ? '' : `, ${group.column} AS __g`;
  const events =
    `SELECT ${keys.map((k, i) => `${k.name} AS __k${i}`).join(', ')}${groupEvent}, toUnixTimestamp64Milli(${ts}) AS __ts, ` +
    `${quoteIdentifier(FP_COLUMN)} AS __fp${eventColumns.length > 0 ? `, ${eventColumns.join(', ')}` : ''} ` +
    `FROM ${qualifiedName(database, tableName(view))} FINAL WHERE ${conditions.join(' AND ')}`;
  const entity =
    `SELECT ${ROW_ID_COLUMN} AS __row, ${keys.map((k, i) => `${k.column} AS __k${i}`).join(', ')}${groupRow}, ` +
    `toUnixTimestamp64Milli(${EVENT_TS}) AS __t${starts.map((start) => `, ${start}`).join('')} FROM ${rows}`;
  const on = [...keys.map((_, i) => `x.__k${i} = r.__k${i}`), ...(group === undefined ? [] : ['x.__g = r.__g'])].join(
    ' AND ',
  );
  const aliases = starts.map((_, j) => `r.__s${j}`);
  const lowest = aliases.length === 1 ? aliases[0] : `least(${aliases.join(', ')})`;
  const select = irs.flatMap((a) => a.irs.map((c) => `${c.sql} AS ${c.alias}`));
  const sub =
    `SELECT r.__row AS ${AGG_ROW}, ${select.join(', ')} FROM (${events}) AS x ` +
    `INNER JOIN (${entity}) AS r ON ${on} WHERE x.__ts <= r.__t` +
    `${bounded ? ` AND x.__ts >= ${lowest}` : ''} GROUP BY r.__row`;
  return `LEFT JOIN (${sub}) AS ${alias} ON ${alias}.${AGG_ROW} = ${entityAlias}.${ROW_ID_COLUMN}`;
}
