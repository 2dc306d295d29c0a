/**
 * Requests whose strings are not valid UTF-8 are refused, not repaired. The generated decoders
 * read strings lossily (each bad byte becomes U+FFFD), so two different string keys could merge
 * into one entity. Decoding here goes through a reader whose UTF-8 decoder is strict: a string
 * that fails it is still decoded lossily (so decoding never throws, which grpc-js would answer with
 * INTERNAL), and noted beside the message; the handler then refuses the request with
 * INVALID_ARGUMENT naming the field. A string that really holds U+FFFD (bytes EF BF BD) is valid
 * UTF-8 and passes.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { TesseraError, quoteInput } from '@tessera/core';
import {
  FeatureStoreService,
  GetHistoricalRequest,
  GetOnlineFeaturesRequest,
  MaterializeRequest,
  WriteRequest,
} from '@tessera/proto';

/** Lossily decoded strings of each decoded message that were not valid UTF-8. */
const invalidStrings = new WeakMap<object, ReadonlySet<string>>();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Longest string decoded by the ASCII fast path (longer ones go to the native decoder). */
const ASCII_FAST_PATH_MAX = 64;

/**
 * A short all-ASCII string (refs, names, join keys: nearly every string of a request), decoded
 * without a call into the native decoder; undefined when it is longer or not ASCII. ASCII is
 * valid UTF-8, so this never hides an invalid string.
 */
function shortAscii(utf8: Uint8Array): string | undefined {
  const n = utf8.length;
  if (n > ASCII_FAST_PATH_MAX) return undefined;
  let text = '';
  for (let i = 0; i < n; i++) {
    const byte = utf8[i]!;
    if (byte >= 0x80) return undefined;
    text += String.fromCharCode(byte);
  }
  return text;
}

/** Decodes a message with `decode`, noting every string field that is not valid UTF-8. */
export function decodeNotingInvalidUtf8<T extends object>(decode: (reader: BinaryReader) => T, bytes: Uint8Array): T {
  let invalid: Set<string> | undefined;
  const reader = new BinaryReader(bytes, (utf8: Uint8Array) => {
    const ascii = shortAscii(utf8);
    if (ascii !== undefined) return ascii;
    try {
      return strictDecoder.decode(utf8);
    } catch {
      const lossy = lossyDecoder.decode(utf8);
      (invalid ??= new Set()).add(lossy);
      return lossy;
    }
  });
  const message = decode(reader);
  if (invalid !== undefined) invalidStrings.set(message, invalid);
  return message;
}

/**
 * The FeatureStore service definition with request decoders that note invalid UTF-8 (see
 * {@link assertValidUtf8}). Register this one instead of the generated `FeatureStoreService`.
 */
export const StrictUtf8FeatureStoreService: typeof FeatureStoreService = {
  ...FeatureStoreService,
  getOnlineFeatures: {
    ...FeatureStoreService.getOnlineFeatures,
    requestDeserialize: (value: Buffer) => decodeNotingInvalidUtf8((r) => GetOnlineFeaturesRequest.decode(r), value),
  },
  getHistorical: {
    ...FeatureStoreService.getHistorical,
    requestDeserialize: (value: Buffer) => decodeNotingInvalidUtf8((r) => GetHistoricalRequest.decode(r), value),
  },
  write: {
    ...FeatureStoreService.write,
    requestDeserialize: (value: Buffer) => decodeNotingInvalidUtf8((r) => WriteRequest.decode(r), value),
  },
  writeStream: {
    ...FeatureStoreService.writeStream,
    requestDeserialize: (value: Buffer) => decodeNotingInvalidUtf8((r) => WriteRequest.decode(r), value),
  },
  materialize: {
    ...FeatureStoreService.materialize,
    requestDeserialize: (value: Buffer) => decodeNotingInvalidUtf8((r) => MaterializeRequest.decode(r), value),
  },
};

/**
 * Throws INVALID_ARGUMENT when a string of `message` was not valid UTF-8 on the wire, naming the
 * field (`column name, row 3` for values of a column). `what` names the request.
 */
export function assertValidUtf8(message: object, what: string): void {
  const invalid = invalidStrings.get(message);
  if (invalid === undefined) return;
  const where = findField(message, '', invalid) ?? 'a string field';
  throw new TesseraError(
    'INVALID_ARGUMENT',
    `${what}: ${where} is not valid UTF-8; strings must be UTF-8 (bad bytes are refused, never replaced)`,
  );
}

/** Where the first noted string sits in `value`, as a field path a user can find. */
function findField(value: unknown, path: string, invalid: ReadonlySet<string>): string | undefined {
  if (typeof value === 'string') return invalid.has(value) ? path : undefined;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findField(value[i], `${path}[${i}]`, invalid);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isColumn(value)) return findInColumn(value, path, invalid);
  for (const [key, child] of Object.entries(value)) {
    if (invalid.has(key)) return `the name of ${path === '' ? 'a field' : path} entry ${quoteInput(key, 40)}`;
    const found = findField(child, path === '' ? key : `${path}.${key}`, invalid);
    if (found !== undefined) return found;
  }
  return undefined;
}

interface StringsColumn {
  readonly kind: {
    readonly $case: string;
    readonly value: { readonly values: unknown[]; readonly lengths?: number[] };
  };
}

function isColumn(value: object): value is StringsColumn {
  return 'nullRows' in value && 'kind' in value;
}

/** A column's bad value by row: `column tags, row 2` (list columns count rows by their lengths). */
function findInColumn(column: StringsColumn, path: string, invalid: ReadonlySet<string>): string | undefined {
  const kind = column.kind as StringsColumn['kind'] | undefined;
  if (kind?.$case !== 'stringValues' && kind?.$case !== 'stringListValues') return undefined;
  const index = kind.value.values.findIndex((v) => typeof v === 'string' && invalid.has(v));
  if (index < 0) return undefined;
  let row = index;
  const lengths = kind.value.lengths;
  if (lengths !== undefined) {
    let end = 0;
    row = lengths.findIndex((length) => (end += length) > index);
  }
  return `${columnName(path)}, row ${row}`;
}

/** `columns.segment` → `column segment`; `entities.rows.keys.customer_id` → `column customer_id`. */
function columnName(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? path : `column ${path.slice(dot + 1)}`;
}
