import { describe, expect, it } from 'vitest';
import { GetOnlineFeaturesRequest } from '@tessera/proto';
import { assertValidUtf8, decodeNotingInvalidUtf8 } from '../src/strict-utf8.js';

/** Encodes a request whose first feature ref is the given raw bytes (possibly invalid UTF-8). */
function requestWithRefBytes(ref: Uint8Array, rest: readonly string[]): Uint8Array {
  const encoded = GetOnlineFeaturesRequest.encode({
    features: ['\u0000'.repeat(ref.length), ...rest],
    featureService: '',
    entities: {},
    includeEventTimestamps: false,
  }).finish();
  // Field 1 (features), length-delimited: the placeholder's bytes follow its tag and length.
  const copy = Uint8Array.from(encoded);
  const at = ref.length < 128 ? 2 : 3;
  copy.set(ref, at);
  return copy;
}

const decode = (bytes: Uint8Array) => decodeNotingInvalidUtf8((r) => GetOnlineFeaturesRequest.decode(r), bytes);

describe('decodeNotingInvalidUtf8', () => {
  it('decodes exactly as the generated codec for ASCII, multi-byte and long strings (fast path and native path)', () => {
    const refs = [
      'customer_stats:loyalty_score',
      'v@3:f',
      '',
      'a'.repeat(64),
      'b'.repeat(65),
      'x'.repeat(300),
      'café:naïve',
      'emoji:😀',
      '\u007f\u0001 tab\t',
      '\ufffd literal replacement',
    ];
    const bytes = GetOnlineFeaturesRequest.encode({
      features: refs,
      featureService: 'svc_é',
      entities: { customer_id: { nullRows: [], values: { $case: 'stringValues', value: { values: ['k1', 'ключ'] } } } },
      includeEventTimestamps: true,
    } as never).finish();
    const strict = decode(bytes);
    expect(strict).toEqual(GetOnlineFeaturesRequest.decode(bytes));
    expect(() => assertValidUtf8(strict, 'GetOnlineFeatures')).not.toThrow();
  });

  it('still refuses invalid UTF-8, short or long, naming the field', () => {
    for (const bad of [
      Uint8Array.of(0x61, 0xff, 0x62),
      Uint8Array.of(0xc3),
      Uint8Array.of(...new Array<number>(70).fill(0x61), 0xed, 0xa0, 0x80),
    ]) {
      const message = decode(requestWithRefBytes(bad, ['ok:f']));
      expect(message.features[1]).toBe('ok:f');
      expect(() => assertValidUtf8(message, 'GetOnlineFeatures')).toThrow(/UTF-8/);
    }
  });
});
