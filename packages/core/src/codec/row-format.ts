import { TesseraError } from '../errors.js';
import type { ValueType } from '../model.js';

/**
 * Layout of a packed row (format version 1), all numbers little-endian:
 *
 * | bytes        | content                                                                 |
 * |--------------|-------------------------------------------------------------------------|
 * | 0            | row format version (1)                                                  |
 * | 1–8          | event timestamp, ms since the epoch, float64                            |
 * | varint       | n: number of features encoded (a prefix of the view's features)         |
 * | ceil(n/8)    | null bitmap: bit i (byte i>>3, bit i&7, LSB first) set = feature i null |
 * | …            | each non-null feature in schema order (see below)                       |
 *
 * Values: int64 and timestamp 8 bytes signed; double 8 bytes f64; bool 1 byte (0/1); string and
 * bytes a varint byte length then the bytes (UTF-8); lists a varint element count then the
 * elements (float_list f32, double_list f64, int64_list i64, string_list varint length + UTF-8
 * each). Features appended to a view later are absent from older rows and read as null.
 */
export const ROW_FORMAT_VERSION = 1;

/** Bytes before the feature count: version byte + float64 event timestamp. */
export const ROW_HEADER_BYTES = 9;

/** Small integer per value type: the codec switches on these instead of strings. */
export const TYPE_CODES = {
  int64: 0,
  double: 1,
  string: 2,
  bool: 3,
  timestamp: 4,
  bytes: 5,
  float_list: 6,
  double_list: 7,
  int64_list: 8,
  string_list: 9,
} as const satisfies Record<ValueType, number>;

/** One of the numbers in {@link TYPE_CODES}. */
export type TypeCode = (typeof TYPE_CODES)[ValueType];

/** Type codes of a schema, in feature order. */
export function toTypeCodes(types: readonly ValueType[]): TypeCode[] {
  return types.map((t) => {
    const code = TYPE_CODES[t] as TypeCode | undefined;
    if (code === undefined) throw new TesseraError('INTERNAL', `Row codec: unknown value type "${String(t)}"`);
    return code;
  });
}

/** Whether typed arrays on this machine are little-endian, so list elements can be copied as bytes. */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The error for a row that cannot be decoded: always INTERNAL (rows are written only by Tessera). */
export function malformedRow(what: string): TesseraError {
  return new TesseraError('INTERNAL', `Malformed packed row: ${what}`);
}

/** Wraps a Uint8Array as a Buffer without copying (Buffer's readers and UTF-8 decoding are the fastest). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
// Buffer's internal slicer skips toString's argument handling: ~35% faster for short strings.
const nativeUtf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice;

/** Decodes UTF-8 bytes [start, end) of a Buffer (invalid sequences become U+FFFD). */
export const readUtf8: (buf: Buffer, start: number, end: number) => string =
  nativeUtf8Slice === undefined
    ? (buf, start, end) => buf.toString('utf8', start, end)
    : (buf, start, end) => nativeUtf8Slice.call(buf, start, end);
