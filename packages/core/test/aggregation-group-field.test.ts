/**
 * Group fields of grouped aggregations online (docs/design/window-aggregations.md §1.8, §3.1):
 * `<fv>~<feature index>~<value>`, the value encoded as `entityKey` encodes a key part, with `.`
 * escaped too, and bounded.
 */
import { describe, expect, it } from 'vitest';
import { MAX_GROUP_VALUE_BYTES, groupField, groupValueProblem } from '../src/index.js';

describe('group fields', () => {
  it('encodes an int64 in decimal and a string quoted, with \\, |, } and . escaped', () => {
    expect(groupField('1a.2', 5, -42n)).toBe('1a.2~5~-42');
    expect(groupField('1a.2', 11, 'books')).toBe("1a.2~b~'books");
    expect(groupField('1a.2', 5, 'a.b|c}\\')).toBe("1a.2~5~'a\\.b\\|c\\}\\\\");
  });

  it('never gives two values, or two (value, field name) pairs, one field', () => {
    // The string "42" and the int64 42; a value with a dot and the field of a shorter value.
    expect(groupField('1.1', 0, '42')).not.toBe(groupField('1.1', 0, 42n));
    expect(`${groupField('1.1', 0, 'a.g1')}.g1.t5`).not.toBe(`${groupField('1.1', 0, 'a')}.g1.g1.t5`);
    expect(`${groupField('1.1', 0, 'a')}.g1.t5`.startsWith(`${groupField('1.1', 0, 'a.g1')}.`)).toBe(false);
  });

  it("writes NUL as \\0, so no group field is a prefix of another followed by the stores' NUL separator", () => {
    expect(groupField('1.1', 0, 'a\u0000b')).toBe("1.1~0~'a\\0b");
    // The embedded store keys a dedup set `<group field>\0<G>\0…`: group "a" must not be a prefix range of this one.
    expect(`${groupField('1.1', 0, 'a\u00001\u0000z')}`.startsWith(`${groupField('1.1', 0, 'a')}\u0000`)).toBe(false);
    // Injective: a backslash followed by 0 is not NUL.
    expect(groupField('1.1', 0, '\\0')).not.toBe(groupField('1.1', 0, '\u0000'));
  });

  it(`bounds an encoded value to ${MAX_GROUP_VALUE_BYTES} bytes (escapes count twice)`, () => {
    expect(groupValueProblem('x'.repeat(MAX_GROUP_VALUE_BYTES - 1))).toBeUndefined();
    expect(groupValueProblem('x'.repeat(MAX_GROUP_VALUE_BYTES))).toMatch(
      /a group value encodes to 257 bytes, more than the limit of 256 \(MAX_GROUP_VALUE_BYTES/,
    );
    expect(groupValueProblem('.'.repeat(128))).toMatch(/encodes to 257 bytes/);
    expect(groupValueProblem(2n ** 62n)).toBeUndefined();
  });
});
