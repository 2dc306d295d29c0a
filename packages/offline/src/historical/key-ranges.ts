/**
 * The key-range plan of a large historical request: the join cut into parts by ranges of join
 * key, each part small enough for a fast in-memory (hash) ASOF join, the parts' results collected
 * in a per-request table and read back in row order.
 *
 * Why: the tables are sorted by (join keys, event_ts), so a range of the first join key is a
 * contiguous slice of every view keyed by it. One hash join over the whole request builds every
 * pruned view in memory at once (5.7 GB at 1M entity rows × 3 views of 10M rows); a merge join
 * bounds memory but sorts everything (15 s). Part by part, each view is read once in total, each
 * hash table holds one range, and memory follows the part size, not the request.
 *
 * Steps, for each group of views sharing their first join key (usually one group):
 * 0. the entity rows copied into a table sorted by that key;
 * 1. a bounds table: the keys of every `step`-th entity row in key order, distinct, numbered (as
 *    many parts as the entity rows need, or as the view rows their joins read need, whichever is more);
 *    part p is the entity rows with bound p ≤ key < bound p+1 (the last part has no upper bound);
 * 2. a stage table (`CREATE … EMPTY AS SELECT` of the part query, so its column types are the
 *    join's own), ordered by row id;
 * 3. per part, `INSERT INTO stage SELECT …` the part's entity rows ASOF LEFT JOIN each view of the
 *    group, each view pruned to the part's key range (an index range), keys and times.
 * 4. a stage of more than {@link MERGE_STAGE_ABOVE_PARTS} parts is merged into one part.
 * Then one query reads the stage tables in row-id order, joining the groups' stages by row id.
 * Bounds stay in tables, read by scalar subqueries: no key value ever enters SQL text.
 */
import type { ClickHouseExecutor } from '../executor.js';
import { qualifiedName } from '../ddl.js';
import { ARROW_OUTPUT_SETTINGS, ENTITY_ALIAS, type HistoricalLayout, type ViewJoin } from './query.js';
import { queryOptions, type QueryContext } from './entities.js';

/** Entity rows per part when the caller does not say (bench/README.md: 1M rows in 10 parts). */
export const DEFAULT_PART_ROWS = 100_000;

/**
 * View rows the hash joins of one part may hold together (summed over the group's views) when the
 * caller does not say. Entity rows alone do not bound a part's memory: 100k entity rows over 50k
 * entities with 200 events each per view (bench/feast.ts at 10M rows per view) put 30M view rows in
 * one part's hash tables and passed the 4 GiB query limit, where the historical bench's parts (100k
 * entity rows, ~3M view rows) peak near 1.2 GB. A group gets as many more parts as this asks for.
 */
export const DEFAULT_PART_VIEW_ROWS = 4_000_000;

const PART_SETTINGS = "join_use_nulls = 1, join_algorithm = 'hash'";

/**
 * Stage parts above which the stage is merged into one part before it is read back. Reading a
 * stage of many parts in row-id order merges one stream per part, and that merge's memory grows
 * with the parts (measured, bench data, 1M entity rows in 100 parts of 10k: read-back peak RSS
 * 1.05–1.21 GB, after `OPTIMIZE … FINAL` 0.67–0.73 GB, CPU 2.8–3.0 s against 3.0–4.4 s with the
 * merge; 10M entity rows in 100 parts: RSS 1.08 GB during the parts, 1.75 GB reading back, and
 * 48.6 CPU-seconds of 146 in the read). The merge (ClickHouse's vertical merge: one column at a
 * time) keeps memory flat; below this many parts it costs more than it saves.
 */
export const MERGE_STAGE_ABOVE_PARTS = 16;

export interface KeyRangeRun {
  /** The training set in row-id order, as ArrowStream bytes. */
  readonly stream: AsyncIterable<Uint8Array>;
  /** Parts joined per group of views. */
  readonly parts: readonly number[];
}

interface Group {
  readonly firstKeyColumn: string;
  readonly views: readonly ViewJoin[];
  /** Output positions this group's stage holds, ascending (row id first). */
  readonly positions: readonly number[];
}

function groupsOf(layout: HistoricalLayout): Group[] {
  const byKey = new Map<string, ViewJoin[]>();
  for (const view of layout.views) {
    const list = byKey.get(view.firstKey) ?? [];
    list.push(view);
    byKey.set(view.firstKey, list);
  }
  return [...byKey.values()].map((views, g) => ({
    firstKeyColumn: views[0]?.firstKeyColumn ?? '',
    views,
    positions: [...(g === 0 ? layout.entityPositions : [0]), ...views.flatMap((v) => v.positions)].sort(
      (a, b) => a - b,
    ),
  }));
}

/** Names a per-request table of the plan: `<database>.<tableId>_<suffix>`. */
export type TableNamer = (suffix: string) => string;

export function tableNamer(database: string, tableId: string): TableNamer {
  return (suffix) => qualifiedName(database, `${tableId}_${suffix}`);
}

/**
 * Runs the parts of every group into stage tables (`s<g>`, bounds `b<g>`, named by `name`), then
 * returns the stream reading them. The caller drops the tables {@link keyRangeTables} lists
 * however the request ends.
 */
export async function runKeyRanges(
  executor: ClickHouseExecutor,
  entityTable: string,
  rowCount: number,
  name: TableNamer,
  layout: HistoricalLayout,
  partRows: number,
  context: QueryContext,
  partViewRows = DEFAULT_PART_VIEW_ROWS,
): Promise<KeyRangeRun> {
  const groups = groupsOf(layout);
  const parts: number[] = [];
  for (const [g, group] of groups.entries()) {
    const sorted = name(`e${g}`);
    const bounds = name(`b${g}`);
    const stage = name(`s${g}`);
    const key = group.firstKeyColumn;
    // The entity rows sorted by the group's key: each part's rows are then one index range
    // (read several times per part: the probe side, each view's key set, and its time bounds
    // where they prune).
    await executor.command(
      // An entity SELECT may give its key a Nullable type (NULL values were refused already).
      `CREATE TABLE ${sorted} ENGINE = MergeTree ORDER BY ${key} SETTINGS allow_nullable_key = 1 ` +
        `AS SELECT ${layout.entityColumns.join(', ')} FROM ${entityTable}`,
      undefined,
      queryOptions(context),
    );
    // Parts: enough for the entity rows and for the view rows their joins read (counted with the
    // joins' own pruning, over every entity row of the request).
    const [viewRows] = await executor.queryJson<{ n: string }>(
      `SELECT toString(${group.views.map((view) => view.rows(sorted)).join(' + ')}) AS n`,
      undefined,
      queryOptions(context),
    );
    const wantedParts = Math.min(
      Math.max(1, rowCount),
      Math.max(1, Math.ceil(rowCount / partRows), Math.ceil(Number(viewRows?.n ?? 0) / partViewRows)),
    );
    const step = Math.max(1, Math.ceil(rowCount / wantedParts));
    await executor.command(
      `CREATE TABLE ${bounds} ENGINE = MergeTree ORDER BY part AS ` +
        `SELECT toUInt32(row_number() OVER (ORDER BY k) - 1) AS part, k FROM (` +
        `SELECT DISTINCT k FROM (SELECT k, row_number() OVER (ORDER BY k) - 1 AS rn FROM (SELECT ${key} AS k FROM ${sorted})) ` +
        `WHERE rn % ${step} = 0)`,
      undefined,
      queryOptions(context),
    );
    const [counted] = await executor.queryJson<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${bounds}`,
      undefined,
      queryOptions(context),
    );
    const count = Number(counted?.n ?? 0);
    const select = group.positions
      .map((position) => `${layout.expressions[position] ?? 'NULL'} AS c${position}`)
      .join(', ');
    const partSql = (p: number): string => {
      const lower = `(SELECT k FROM ${bounds} WHERE part = ${p})`;
      const upper = p + 1 < count ? `(SELECT k FROM ${bounds} WHERE part = ${p + 1})` : undefined;
      const range = (column: string): string =>
        upper === undefined ? `${column} >= ${lower}` : `${column} >= ${lower} AND ${column} < ${upper}`;
      const source = `(SELECT ${layout.entityColumns.join(', ')} FROM ${sorted} WHERE ${range(key)})`;
      const joins = group.views.map((view) => view.join(source, [range(view.firstKey)]));
      return `SELECT ${select} FROM ${source} AS ${ENTITY_ALIAS} ${joins.join(' ')}`;
    };
    await executor.command(
      `CREATE TABLE ${stage} ENGINE = MergeTree ORDER BY c0 EMPTY AS ${partSql(0)} SETTINGS ${PART_SETTINGS}`,
      undefined,
      queryOptions(context),
    );
    for (let p = 0; p < count; p += 1) {
      await executor.command(
        `INSERT INTO ${stage} ${partSql(p)} SETTINGS ${PART_SETTINGS}`,
        undefined,
        queryOptions(context),
      );
    }
    if (count > MERGE_STAGE_ABOVE_PARTS) {
      await executor.command(`OPTIMIZE TABLE ${stage} FINAL`, undefined, queryOptions(context));
    }
    parts.push(count);
  }
  const owner = new Map<number, number>();
  groups.forEach((group, g) => {
    for (const position of group.positions) if (!owner.has(position)) owner.set(position, g);
  });
  const select = layout.expressions.map((_, i) => `s${owner.get(i) ?? 0}.c${i} AS c${i}`).join(', ');
  const joins = groups
    .slice(1)
    .map((_, i) => `INNER JOIN ${name(`s${i + 1}`)} AS s${i + 1} ON s0.c0 = s${i + 1}.c0`)
    .join(' ');
  const settings = [
    ...(groups.length > 1 ? ["join_algorithm = 'full_sorting_merge'"] : []),
    'max_block_size = 65536',
    ...ARROW_OUTPUT_SETTINGS,
  ];
  const sql = `SELECT ${select} FROM ${name('s0')} AS s0 ${joins} ORDER BY c0 SETTINGS ${settings.join(', ')}`;
  return { stream: executor.queryStream(sql, undefined, { format: 'ArrowStream', ...queryOptions(context) }), parts };
}

/** Every table {@link runKeyRanges} may create for `layout`. */
export function keyRangeTables(name: TableNamer, layout: HistoricalLayout): string[] {
  const groups = new Set(layout.views.map((view) => view.firstKey)).size;
  return Array.from({ length: groups }, (_, g) => [name(`e${g}`), name(`b${g}`), name(`s${g}`)]).flat();
}
