/**
 * The join key columns of a GetOnlineFeatures request, checked against a read plan: presence,
 * length, type and nulls (the plan's own keys, nothing else).
 */
import { TesseraError, keyValueProblem, quoteInput, showName } from '@tessera/core';
import type { JoinKeySpec, JoinKeyValue } from '@tessera/core';
import { columnRowCount, columnValueType, fromColumn } from '@tessera/wire';
import type { Column } from '@tessera/proto';
import type { ReadPlan } from './online-read.js';

/** Reads the join key columns of a request, checking presence, length, type and nulls. */
export function readEntityColumns(
  plan: ReadPlan,
  entities: { readonly [name: string]: Column },
  maxRows: number,
): { rows: number; values: Map<string, JoinKeyValue[]> } {
  let rows = -1;
  const values = new Map<string, JoinKeyValue[]>();
  const needed = plan.joinKeys.map((k) => k.name);
  const unknown = Object.keys(entities).filter((name) => !needed.includes(name));
  if (unknown.length > 0) {
    // A key the features do not use is a mistake (a typo, the wrong feature list), not a hint to ignore.
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `entities: unknown join key column${unknown.length === 1 ? '' : 's'} ${unknown.slice(0, 5).map(showName).join(', ')}` +
        `${unknown.length > 5 ? ` (and ${unknown.length - 5} more)` : ''}; the requested features use ${needed.join(', ')}`,
    );
  }
  for (const key of plan.joinKeys) {
    const column = entities[key.name];
    if (!column) {
      const given = Object.keys(entities);
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `entities: ${plan.groupColumns.includes(key.name) ? 'group' : 'join key'} column ${key.name} (${key.type}) is missing${plan.groupColumns.includes(key.name) ? ' (a requested aggregation is grouped by it)' : ''}${given.length ? `; given: ${given.slice(0, 5).map(showName).join(', ')}` : ''}`,
      );
    }
    const n = columnRowCount(column);
    if (rows >= 0 && n !== rows) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `entities: join key column ${key.name} has ${n} rows, others have ${rows}`,
      );
    }
    rows = n;
    if (column.nullRows.length > 0) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `entities: row ${column.nullRows[0]}, column ${key.name}: join keys cannot be null`,
      );
    }
    values.set(key.name, joinKeyValues(key, column));
  }
  if (rows > maxRows) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `entities: ${rows} rows exceed the limit of ${maxRows} per request (maxBatchRows); split the batch`,
    );
  }
  return { rows: Math.max(rows, 0), values };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function joinKeyValues(key: JoinKeySpec, column: Column): JoinKeyValue[] {
  const type = columnValueType(column);
  let raw: unknown[];
  try {
    raw = fromColumn(column);
  } catch (error) {
    throw new TesseraError('INVALID_ARGUMENT', `entities: column ${key.name}: ${(error as Error).message}`);
  }
  if (key.type === 'string') {
    if (type !== 'string')
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `entities: column ${key.name} must hold string values (stringValues), got ${type ?? 'no values'}`,
      );
    const strings = raw as string[];
    for (let row = 0; row < strings.length; row++) {
      const problem = keyValueProblem(strings[row]!);
      if (problem !== undefined)
        throw new TesseraError('INVALID_ARGUMENT', `entities: row ${row}, column ${key.name}: ${problem}`);
    }
    return strings;
  }
  if (type === 'int64') return raw as bigint[];
  if (type === 'string') {
    // Accept decimal strings for int64 keys: JSON clients (grpcurl) and CSV files carry them so.
    return (raw as string[]).map((s, row) => {
      const value = /^-?\d{1,19}$/.test(s) ? BigInt(s) : undefined;
      if (value === undefined || value < INT64_MIN || value > INT64_MAX)
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `entities: row ${row}, column ${key.name}: ${quoteInput(s, 40)} is not an int64 (-9223372036854775808 to 9223372036854775807)`,
        );
      return value;
    });
  }
  throw new TesseraError(
    'INVALID_ARGUMENT',
    `entities: column ${key.name} must hold int64 values (int64Values), got ${type ?? 'no values'}`,
  );
}
