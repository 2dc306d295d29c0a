import { TesseraError } from '@tessera/core/basics';
import type { FeatureValue, ValueType as CoreValueType } from '@tessera/core/basics';
import { ValueType } from '@tessera/proto';
import type { Column } from '@tessera/proto';

type ColumnKind = NonNullable<Column['kind']>;

const TO_PROTO: Record<CoreValueType, ValueType> = {
  int64: ValueType.VALUE_TYPE_INT64,
  double: ValueType.VALUE_TYPE_DOUBLE,
  string: ValueType.VALUE_TYPE_STRING,
  bool: ValueType.VALUE_TYPE_BOOL,
  timestamp: ValueType.VALUE_TYPE_TIMESTAMP,
  bytes: ValueType.VALUE_TYPE_BYTES,
  float_list: ValueType.VALUE_TYPE_FLOAT_LIST,
  double_list: ValueType.VALUE_TYPE_DOUBLE_LIST,
  int64_list: ValueType.VALUE_TYPE_INT64_LIST,
  string_list: ValueType.VALUE_TYPE_STRING_LIST,
};
const FROM_PROTO = new Map<ValueType, CoreValueType>(
  Object.entries(TO_PROTO).map(([core, proto]) => [proto, core as CoreValueType]),
);

/** The wire enum of a value type. */
export function toProtoValueType(type: CoreValueType): ValueType {
  return TO_PROTO[type];
}

/** The value type of a wire enum, or undefined for UNSPECIFIED and unknown numbers. */
export function fromProtoValueType(type: ValueType): CoreValueType | undefined {
  return FROM_PROTO.get(type);
}

/** The value type a column carries, from the oneof case it uses. */
export function columnValueType(column: Column): CoreValueType | undefined {
  switch (column.kind?.$case) {
    case 'int64Values':
      return 'int64';
    case 'doubleValues':
      return 'double';
    case 'stringValues':
      return 'string';
    case 'boolValues':
      return 'bool';
    case 'timestampValues':
      return 'timestamp';
    case 'bytesValues':
      return 'bytes';
    case 'floatListValues':
      return 'float_list';
    case 'doubleListValues':
      return 'double_list';
    case 'int64ListValues':
      return 'int64_list';
    case 'stringListValues':
      return 'string_list';
    case undefined:
      return undefined;
  }
}

/** Number of rows a column holds (0 for a column with no kind set). */
export function columnRowCount(column: Column): number {
  const kind = column.kind;
  if (kind === undefined) return 0;
  switch (kind.$case) {
    case 'floatListValues':
    case 'doubleListValues':
    case 'int64ListValues':
    case 'stringListValues':
      return kind.value.lengths.length;
    case 'int64Values':
    case 'doubleValues':
    case 'stringValues':
    case 'boolValues':
    case 'timestampValues':
    case 'bytesValues':
      return kind.value.values.length;
  }
}

/**
 * Builds a wire column of the given type from in-memory values (null = no value).
 * Values follow core's FeatureValue representation; plain number arrays are accepted for lists.
 */
export function toColumn(type: CoreValueType, values: readonly FeatureValue[]): Column {
  const nullRows: number[] = [];
  const n = values.length;
  const scalar = <T>(placeholder: T, convert: (v: FeatureValue) => T): T[] => {
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        nullRows.push(i);
        out[i] = placeholder;
      } else {
        out[i] = convert(v);
      }
    }
    return out;
  };
  const list = <T>(convert: (v: FeatureValue) => Iterable<T>): { values: T[]; lengths: number[] } => {
    const flat: T[] = [];
    const lengths = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        nullRows.push(i);
        lengths[i] = 0;
        continue;
      }
      let count = 0;
      for (const item of convert(v)) {
        flat.push(item);
        count++;
      }
      lengths[i] = count;
    }
    return { values: flat, lengths };
  };
  let kind: ColumnKind;
  switch (type) {
    case 'int64':
      kind = { $case: 'int64Values', value: { values: scalar(0n, (v) => BigInt(v as bigint)) } };
      break;
    case 'timestamp':
      kind = { $case: 'timestampValues', value: { values: scalar(0n, (v) => BigInt(v as number)) } };
      break;
    case 'double':
      kind = { $case: 'doubleValues', value: { values: scalar(0, (v) => v as number) } };
      break;
    case 'string':
      kind = { $case: 'stringValues', value: { values: scalar('', (v) => v as string) } };
      break;
    case 'bool':
      kind = { $case: 'boolValues', value: { values: scalar(false, (v) => v as boolean) } };
      break;
    case 'bytes':
      kind = {
        $case: 'bytesValues',
        value: { values: scalar(Buffer.alloc(0), (v) => Buffer.from(v as Uint8Array)) },
      };
      break;
    case 'float_list':
      kind = { $case: 'floatListValues', value: list((v) => v as Iterable<number>) };
      break;
    case 'double_list':
      kind = { $case: 'doubleListValues', value: list((v) => v as Iterable<number>) };
      break;
    case 'int64_list':
      kind = { $case: 'int64ListValues', value: list((v) => Array.from(v as Iterable<bigint>, (x) => BigInt(x))) };
      break;
    case 'string_list':
      kind = { $case: 'stringListValues', value: list((v) => v as Iterable<string>) };
      break;
  }
  return { kind, nullRows };
}

/**
 * Reads a wire column into in-memory values (core's FeatureValue representation), null where
 * the column names a null row. Timestamps become numbers (ms since the epoch). A malformed column
 * is refused (INVALID_ARGUMENT), never repaired: a null row past the last row, or list values
 * that the lengths do not account for (too few or too many).
 */
export function fromColumn(column: Column): FeatureValue[] {
  const kind = column.kind;
  if (kind === undefined) {
    if (column.nullRows.length > 0) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `null_rows names row ${column.nullRows[0]}, but the column has no values set`,
      );
    }
    return [];
  }
  let out: FeatureValue[];
  switch (kind.$case) {
    case 'int64Values':
    case 'doubleValues':
    case 'stringValues':
    case 'boolValues':
      out = kind.value.values.slice();
      break;
    case 'timestampValues':
      out = kind.value.values.map((v) => Number(v));
      break;
    case 'bytesValues':
      out = kind.value.values.map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      break;
    case 'floatListValues':
      out = splitLists(kind.value.values, kind.value.lengths, (s) => Float32Array.from(s));
      break;
    case 'doubleListValues':
      out = splitLists(kind.value.values, kind.value.lengths, (s) => Float64Array.from(s));
      break;
    case 'int64ListValues':
      out = splitLists(kind.value.values, kind.value.lengths, (s) => BigInt64Array.from(s));
      break;
    case 'stringListValues':
      out = splitLists(kind.value.values, kind.value.lengths, (s) => s);
      break;
  }
  for (const row of column.nullRows) {
    if (!(row < out.length)) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `null_rows names row ${row}, but the column has ${out.length} rows (rows are numbered from 0)`,
      );
    }
    out[row] = null;
  }
  return out;
}

function splitLists<T, R extends FeatureValue>(
  flat: readonly T[],
  lengths: readonly number[],
  make: (slice: T[]) => R,
): R[] {
  const out = new Array<R>(lengths.length);
  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i] as number;
    if (offset + len > flat.length) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `list column is malformed: row ${i} ends at value ${offset + len} but the column holds ${flat.length} values`,
      );
    }
    out[i] = make(flat.slice(offset, offset + len));
    offset += len;
  }
  if (offset !== flat.length) {
    // Values past the last row's length belong to no row: dropping them would hide a bad encoder.
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `list column is malformed: its lengths add up to ${offset} values but the column holds ${flat.length}`,
    );
  }
  return out;
}
