/**
 * The built-in entity set of a historical request, no caller SQL: every entity of one view with
 * events in [start, end), either at each of its event times or at each point of a hop grid
 * (start, start + hop, … before end). Tessera writes the SQL: identifiers come from the registry;
 * the range, hop and row limit are integers checked here (not query parameters: see
 * {@link unboundInteger}).
 */
import { TesseraError, type EntityRowsInput, type JoinKeySpec } from '@tessera/core';
import { joinKeyClickHouseType, qualifiedName, quoteIdentifier, tableName } from '../ddl.js';
import type { ClickHouseExecutor } from '../executor.js';
import {
  countRows,
  EVENT_TS,
  ROW_ID_COLUMN,
  type EntityColumn,
  type EntityTable,
  type QueryContext,
  queryOptions,
  unboundInteger,
} from './entities.js';
import { MAX_TS_MILLIS, MIN_TS_MILLIS } from './entity-tsv.js';

/** The shortest hop of a hop grid: 1 s (finer grids are event-time spines in disguise). */
export const MIN_HOP_MILLIS = 1_000;

type ViewEntitiesInput = Extract<EntityRowsInput, { kind: 'view' }>;

function invalid(message: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', `view_entities: ${message}`);
}

function checkMillis(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < MIN_TS_MILLIS || value > MAX_TS_MILLIS) {
    throw invalid(`${name} must be whole milliseconds between 1900-01-01 and 2299-12-31 UTC, got ${String(value)}`);
  }
}

/** Points of the hop grid in [start, end). */
function gridPoints(input: ViewEntitiesInput): number {
  return Math.ceil((input.endMillis - input.startMillis) / input.hopMillis);
}

/**
 * Checks the range and hop (INVALID_ARGUMENT naming the field and rule) and that the view's join
 * keys cover `requiredKeys` with the same types.
 */
export function checkViewEntities(input: ViewEntitiesInput, requiredKeys: readonly JoinKeySpec[]): void {
  checkMillis('start_time', input.startMillis);
  checkMillis('end_time', input.endMillis);
  if (input.startMillis >= input.endMillis) {
    throw invalid(`start_time (${input.startMillis}) must be before end_time (${input.endMillis})`);
  }
  const hop = input.hopMillis;
  if (!Number.isSafeInteger(hop) || (hop !== 0 && hop < MIN_HOP_MILLIS)) {
    throw invalid(
      `hop_millis must be 0 (each event time) or at least ${MIN_HOP_MILLIS} ms (a hop grid), got ${String(hop)}`,
    );
  }
  const viewKeys = new Map(input.view.joinKeys.map((k) => [k.name, k.type]));
  for (const key of requiredKeys) {
    const type = viewKeys.get(key.name);
    if (type !== key.type) {
      throw invalid(
        `view ${input.view.name} has the join keys ${input.view.joinKeys.map((k) => `${k.name} (${k.type})`).join(', ')}, ` +
          `but the requested features need ${key.name} (${key.type})`,
      );
    }
  }
}

/**
 * Fills `table` (created here) with the view's entity set, numbered in (keys, time) order.
 * Throws RESOURCE_EXHAUSTED naming the limit when the set has more than `maxRows` rows.
 */
export async function materializeViewEntities(
  executor: ClickHouseExecutor,
  table: string,
  database: string,
  input: ViewEntitiesInput,
  requiredKeys: readonly JoinKeySpec[],
  maxRows: number,
  context: QueryContext,
): Promise<EntityTable> {
  checkViewEntities(input, requiredKeys);
  const tooMany = (): TesseraError =>
    new TesseraError(
      'RESOURCE_EXHAUSTED',
      `view_entities: the entity set of view ${input.view.name} has more than the limit of ${maxRows} entity rows; ` +
        'narrow the time range or widen the hop',
    );
  const hop = input.hopMillis;
  if (hop > 0 && gridPoints(input) > maxRows) throw tooMany();

  const keys = input.view.joinKeys;
  const columns: EntityColumn[] = [];
  const keyColumns = new Map<string, string>();
  keys.forEach((key, i) => {
    keyColumns.set(key.name, `k${i}`);
    columns.push({ name: key.name, type: key.type, column: `k${i}`, role: 'join_key' });
  });
  columns.push({ name: EVENT_TS, type: 'timestamp', column: EVENT_TS, role: 'event_ts' });
  const keyList = keys.map((_, i) => `k${i}`).join(', ');
  await executor.command(
    `CREATE TABLE ${table} (${ROW_ID_COLUMN} UInt64, ` +
      `${keys.map((key, i) => `k${i} ${joinKeyClickHouseType(key.type)}`).join(', ')}, ` +
      `${EVENT_TS} DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY ${ROW_ID_COLUMN}`,
    undefined,
    { signal: context.signal },
  );
  const source = qualifiedName(database, tableName(input.view));
  // Integers checked above, as text: the spine may run long, so it is not a bound query.
  const startMs = unboundInteger(input.startMillis);
  const inRange =
    `${EVENT_TS} >= fromUnixTimestamp64Milli(toInt64(${startMs}), 'UTC') ` +
    `AND ${EVENT_TS} < fromUnixTimestamp64Milli(toInt64(${unboundInteger(input.endMillis)}), 'UTC')`;
  const keySelect = keys.map((key, i) => `${quoteIdentifier(key.name)} AS k${i}`).join(', ');
  // DISTINCT: a replayed or corrected row repeats (keys, event_ts) with a newer created_ts.
  const spine =
    hop === 0
      ? `SELECT DISTINCT ${keySelect}, ${EVENT_TS} FROM ${source} WHERE ${inRange}`
      : `SELECT ${keyList}, fromUnixTimestamp64Milli(toInt64(${startMs}) + toInt64(grid.number) * ${unboundInteger(hop)}, 'UTC') AS ${EVENT_TS} ` +
        `FROM (SELECT DISTINCT ${keySelect} FROM ${source} WHERE ${inRange}) AS entities ` +
        `CROSS JOIN numbers(${unboundInteger(gridPoints(input))}) AS grid`;
  // One thread and an ORDER BY: row ids follow (keys, time). One row past the limit tells
  // "too many" from "exactly the limit".
  await executor.command(
    `INSERT INTO ${table} (${ROW_ID_COLUMN}, ${keyList}, ${EVENT_TS}) ` +
      `SELECT rowNumberInAllBlocks(), ${keyList}, ${EVENT_TS} FROM (${spine} ORDER BY ${keyList}, ${EVENT_TS} ` +
      `LIMIT ${unboundInteger(maxRows + 1)}) SETTINGS max_threads = 1`,
    undefined,
    queryOptions(context),
  );
  const rowCount = await countRows(executor, table, context);
  if (rowCount > maxRows) throw tooMany();
  return { rowCount, columns, keyColumns };
}
