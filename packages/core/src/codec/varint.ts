/**
 * Unsigned LEB128 varints for lengths and counts in packed rows: 7 bits per byte, low bits
 * first, high bit set on every byte but the last. Limited to 32 bits (5 bytes): no row holds
 * more than 4 GiB, and a longer varint is a sign of corruption.
 */

/** Largest value a varint in a packed row may hold. */
export const MAX_VARINT_VALUE = 0xffff_ffff;

/** Bytes the varint encoding of `value` (0 ≤ value ≤ {@link MAX_VARINT_VALUE}) takes. */
export function varintByteLength(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  return 5;
}

/** Writes `value` at `pos`; returns the position after it. The caller has sized `bytes`. */
export function writeVarint(bytes: Uint8Array, pos: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    bytes[pos++] = (v & 0x7f) | 0x80;
    // Division, not >>>, so values ≥ 2^31 stay positive.
    v = Math.floor(v / 128);
  }
  bytes[pos++] = v;
  return pos;
}

/** A read position, reused across reads so that reading a varint allocates nothing. */
export interface ByteCursor {
  pos: number;
}

/**
 * Reads a varint at `cursor.pos` and advances it. Returns -1 when the varint runs past `end` or
 * is longer than 5 bytes; the caller reports the malformed row with its own context.
 */
export function readVarint(bytes: Uint8Array, cursor: ByteCursor, end: number): number {
  let pos = cursor.pos;
  let result = 0;
  let factor = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= end) return -1;
    const b = bytes[pos++] as number;
    result += (b & 0x7f) * factor;
    if (b < 0x80) {
      cursor.pos = pos;
      return result > MAX_VARINT_VALUE ? -1 : result;
    }
    factor *= 128;
  }
  return -1;
}
