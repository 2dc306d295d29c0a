import fc from 'fast-check';
import type { FeatureValue, ValueType } from '../../src/model.js';

const utf8String = fc.string({ unit: 'binary', maxLength: 20 });

/** Any value of a feature type, edge cases included (NaN, ±0, int64 bounds, invalid UTF-16). */
export function valueOf(type: ValueType): fc.Arbitrary<FeatureValue> {
  switch (type) {
    case 'int64':
      return fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 0n),
      );
    case 'double':
      return fc.double();
    case 'string':
      return utf8String;
    case 'bool':
      return fc.boolean();
    case 'timestamp':
      return fc.maxSafeInteger();
    case 'bytes':
      return fc.uint8Array({ maxLength: 20 });
    case 'float_list':
      return fc.float32Array({ maxLength: 8 });
    case 'double_list':
      return fc.float64Array({ maxLength: 8 });
    case 'int64_list':
      return fc.bigInt64Array({ maxLength: 8 });
    case 'string_list':
      return fc.array(utf8String, { maxLength: 5 });
  }
}
