import type { FeatureValue, RegisteredView } from '@tessera/core';
import type { ClickHouseExecutor } from '../../src/index.js';
import { IS_NULL_SUFFIX, qualifiedName, tableName } from '../../src/index.js';

/** A row read back from an offline table, values decoded to Tessera's in-memory types. */
export interface ReadRow {
  readonly keys: (bigint | string)[];
  readonly eventTsMillis: number;
  readonly createdTsMicros: bigint;
  readonly features: FeatureValue[];
}

// Each type is read in a form that is exact through JSON: bit patterns for floats, hex for bytes.
function selectExpression(name: string, type: string): string {
  const c = `\`${name}\``;
  switch (type) {
    case 'int64':
      return `toString(${c})`;
    case 'double':
      return `toString(reinterpretAsUInt64(assumeNotNull(${c}))) || if(isNull(${c}), 'N', '')`;
    case 'string':
      return `hex(${c})`;
    case 'bool':
      return c;
    case 'timestamp':
      return `toString(toUnixTimestamp64Milli(${c}))`;
    case 'bytes':
      return `hex(${c})`;
    case 'float_list':
      return `if(\`${name}${IS_NULL_SUFFIX}\` = 1, NULL, arrayMap(x -> toString(reinterpretAsUInt32(x)), ${c}))`;
    case 'double_list':
      return `if(\`${name}${IS_NULL_SUFFIX}\` = 1, NULL, arrayMap(x -> toString(reinterpretAsUInt64(x)), ${c}))`;
    case 'int64_list':
      return `if(\`${name}${IS_NULL_SUFFIX}\` = 1, NULL, arrayMap(x -> toString(x), ${c}))`;
    case 'string_list':
      return `if(\`${name}${IS_NULL_SUFFIX}\` = 1, NULL, arrayMap(x -> hex(x), ${c}))`;
    default:
      throw new Error(`no reader for ${type}`);
  }
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function doubleFromBits(bits: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(bits));
  return view.getFloat64(0);
}

function floatFromBits(bits: string): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, Number(bits));
  return view.getFloat32(0);
}

function decode(type: string, raw: unknown): FeatureValue {
  if (raw === null) return null;
  switch (type) {
    case 'int64':
      return BigInt(raw as string);
    case 'double': {
      const text = raw as string;
      return text.endsWith('N') ? null : doubleFromBits(text);
    }
    case 'string':
      return Buffer.from(raw as string, 'hex').toString('utf8');
    case 'bool':
      return raw as boolean;
    case 'timestamp':
      return Number(raw);
    case 'bytes':
      return fromHex(raw as string);
    case 'float_list':
      return Float32Array.from((raw as string[]).map(floatFromBits));
    case 'double_list':
      return Float64Array.from((raw as string[]).map(doubleFromBits));
    case 'int64_list':
      return BigInt64Array.from((raw as string[]).map((s) => BigInt(s)));
    case 'string_list':
      return (raw as string[]).map((s) => Buffer.from(s, 'hex').toString('utf8'));
    default:
      throw new Error(`no decoder for ${type}`);
  }
}

/** Every row of a view version's table (with FINAL unless `raw`), ordered by keys, event_ts, created_ts. */
export async function readBack(
  executor: ClickHouseExecutor,
  database: string,
  view: RegisteredView,
  { final = false }: { final?: boolean } = {},
): Promise<ReadRow[]> {
  const keys = view.joinKeys.map((key, i) => `toString(\`${key.name}\`) AS k${i}`);
  const features = view.features.map((f, i) => `${selectExpression(f.name, f.type)} AS f${i}`);
  const sql =
    `SELECT ${[...keys, 'toString(toUnixTimestamp64Milli(event_ts)) AS ts', 'toString(toUnixTimestamp64Micro(created_ts)) AS cts', ...features].join(', ')} ` +
    `FROM ${qualifiedName(database, tableName(view))}${final ? ' FINAL' : ''} ` +
    `ORDER BY ${[...view.joinKeys.map((k) => `\`${k.name}\``), 'event_ts', 'created_ts'].join(', ')}`;
  const rows = await executor.queryJson<Record<string, unknown>>(sql);
  return rows.map((row) => ({
    keys: view.joinKeys.map((key, i) =>
      key.type === 'int64' ? BigInt(row[`k${i}`] as string) : (row[`k${i}`] as string),
    ),
    eventTsMillis: Number(row.ts as string),
    createdTsMicros: BigInt(row.cts as string),
    features: view.features.map((f, i) => decode(f.type, row[`f${i}`])),
  }));
}
