/**
 * The tile list (design §3.2): the fixed-size IR records of every aggregation of one hop, one
 * record per tile that holds events, sorted by tile index. Little-endian:
 *
 *   header  u8 format = 1, u8 reserved = 0, u16 recordBytes (tile index included), u32 records,
 *           f64 newestEventTs (the greatest ts ever folded: a read uses t = max(now, it), §1.5)
 *   record  i32 tileIndex, then the layout's record (`layout.ts`)
 *
 * Reads binary-search the window's first tile and merge records in place from one DataView.
 */

import type { FeatureValue } from '../model.js';
import type { TileLayout } from './layout.js';
import { TesseraError } from '../errors.js';
import { foldEvent, initRecord, mergeRecords } from './record.js';
import { tileIndex } from './window.js';

/** Format byte of a tile list. */
export const TILE_LIST_FORMAT = 1;
/** Bytes of a tile list's header. */
export const TILE_LIST_HEADER_BYTES = 16;
/** Bytes of a record's tile index. */
export const TILE_INDEX_BYTES = 4;
/** Largest tile index (i32): ±4,000 years at a 1-minute hop. */
const MAX_TILE_INDEX = 0x7fff_ffff;

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Checks a tile list's header against the layout; returns its record count. */
function checkedRecords(view: DataView, layout: TileLayout): number {
  if (view.byteLength < TILE_LIST_HEADER_BYTES || view.getUint8(0) !== TILE_LIST_FORMAT) {
    throw new TesseraError('INTERNAL', 'Tile list: not a format 1 tile list');
  }
  const recordBytes = view.getUint16(2, true);
  if (recordBytes !== TILE_INDEX_BYTES + layout.recordBytes) {
    throw new TesseraError(
      'INTERNAL',
      `Tile list: records of ${recordBytes} bytes, the layout has ${TILE_INDEX_BYTES + layout.recordBytes}`,
    );
  }
  const records = view.getUint32(4, true);
  if (view.byteLength !== TILE_LIST_HEADER_BYTES + records * recordBytes) {
    throw new TesseraError('INTERNAL', `Tile list: ${view.byteLength} bytes for ${records} records`);
  }
  return records;
}

/** Position of the first record whose tile index is ≥ `index` (binary search). */
function lowerBound(view: DataView, records: number, recordBytes: number, index: number): number {
  let lo = 0;
  let hi = records;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (view.getInt32(TILE_LIST_HEADER_BYTES + mid * recordBytes, true) < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The greatest event time ever folded into the list. */
export function tileListNewestEventTs(list: Uint8Array): number {
  return viewOf(list).getFloat64(8, true);
}

/** Number of records (tiles) in a list. */
export function tileListRecords(list: Uint8Array): number {
  return viewOf(list).getUint32(4, true);
}

/**
 * Folds one (deduplicated, eligible) event into its tile of the list, creating the list or the tile
 * as needed. Returns the list: the same bytes changed in place when the tile existed, else new bytes.
 */
export function foldIntoTileList(
  list: Uint8Array | undefined,
  layout: TileLayout,
  hopMillis: number,
  eventTsMillis: number,
  fp: Uint8Array,
  values: readonly FeatureValue[],
): Uint8Array {
  const recordBytes = TILE_INDEX_BYTES + layout.recordBytes;
  const index = tileIndex(eventTsMillis, hopMillis);
  if (index > MAX_TILE_INDEX || index < -MAX_TILE_INDEX - 1) {
    // Live events are within the future tolerance of now, so only a broken clock or caller gets here.
    throw new TesseraError(
      'INTERNAL',
      `Tile list: event time ${eventTsMillis} is tile ${index} of hop ${hopMillis} ms, outside the i32 tile index`,
    );
  }
  let bytes: Uint8Array;
  let view: DataView;
  let records: number;
  if (list === undefined) {
    bytes = new Uint8Array(TILE_LIST_HEADER_BYTES);
    view = viewOf(bytes);
    view.setUint8(0, TILE_LIST_FORMAT);
    view.setUint16(2, recordBytes, true);
    view.setFloat64(8, -Infinity, true);
    records = 0;
  } else {
    bytes = list;
    view = viewOf(bytes);
    records = checkedRecords(view, layout);
  }
  const pos = lowerBound(view, records, recordBytes, index);
  let at = TILE_LIST_HEADER_BYTES + pos * recordBytes;
  if (pos === records || view.getInt32(at, true) !== index) {
    const grown = new Uint8Array(bytes.byteLength + recordBytes);
    grown.set(bytes.subarray(0, at), 0);
    grown.set(bytes.subarray(at), at + recordBytes);
    bytes = grown;
    view = viewOf(bytes);
    view.setInt32(at, index, true);
    initRecord(layout, view, at + TILE_INDEX_BYTES);
    view.setUint32(4, records + 1, true);
  }
  at += TILE_INDEX_BYTES;
  foldEvent(layout, view, at, eventTsMillis, fp, values);
  if (eventTsMillis > view.getFloat64(8, true)) view.setFloat64(8, eventTsMillis, true);
  return bytes;
}

/**
 * Merges the records of tiles `loIndex … hiIndex` (inclusive) into the accumulator record at
 * (acc, accOffset). Returns how many records were merged.
 */
export function mergeTileRange(
  list: Uint8Array,
  layout: TileLayout,
  loIndex: number,
  hiIndex: number,
  acc: DataView,
  accOffset: number,
): number {
  const view = viewOf(list);
  const records = checkedRecords(view, layout);
  const recordBytes = TILE_INDEX_BYTES + layout.recordBytes;
  const first = lowerBound(view, records, recordBytes, loIndex);
  const end = lowerBound(view, records, recordBytes, hiIndex + 1);
  if (end <= first) return 0;
  const at = TILE_LIST_HEADER_BYTES + first * recordBytes + TILE_INDEX_BYTES;
  mergeRecords(layout, acc, accOffset, view, at, recordBytes, end - first);
  return end - first;
}

/** The list without records whose tile index is below `minIndex` (tiles no read includes any more). */
export function pruneTileList(list: Uint8Array, layout: TileLayout, minIndex: number): Uint8Array {
  const view = viewOf(list);
  const records = checkedRecords(view, layout);
  const recordBytes = TILE_INDEX_BYTES + layout.recordBytes;
  const drop = lowerBound(view, records, recordBytes, minIndex);
  if (drop === 0) return list;
  const out = new Uint8Array(list.byteLength - drop * recordBytes);
  out.set(list.subarray(0, TILE_LIST_HEADER_BYTES), 0);
  out.set(list.subarray(TILE_LIST_HEADER_BYTES + drop * recordBytes), TILE_LIST_HEADER_BYTES);
  viewOf(out).setUint32(4, records - drop, true);
  return out;
}
