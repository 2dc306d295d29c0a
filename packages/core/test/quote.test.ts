import { describe, expect, it } from 'vitest';
import { MAX_QUOTED_CHARS, quoteInput, showName } from '../src/quote.js';
import { formatValue } from '../src/values.js';
import { parseFeatureRef, MAX_REF_LENGTH } from '../src/definitions/ref-syntax.js';
import { TesseraError } from '../src/errors.js';

describe('quoting input in messages', () => {
  it('quotes short input whole and long input cut, then its length', () => {
    expect(quoteInput('gold')).toBe('"gold"');
    const quoted = quoteInput('x'.repeat(100_000));
    expect(quoted).toBe(`"${'x'.repeat(MAX_QUOTED_CHARS)}…" (100000 chars)`);
    expect(formatValue('y'.repeat(5_000))).toContain('(5000 chars)');
  });

  it('never splits a surrogate pair', () => {
    const quoted = quoteInput(`${'a'.repeat(MAX_QUOTED_CHARS - 1)}😀tail`);
    expect(quoted).not.toContain('\\ud83d');
    expect(quoted.startsWith(`"${'a'.repeat(MAX_QUOTED_CHARS - 1)}…"`)).toBe(true);
  });

  it('shows plain names as they are and anything else quoted', () => {
    expect(showName('customer_id')).toBe('customer_id');
    expect(showName('a b')).toBe('"a b"');
    expect(showName('z'.repeat(300))).toContain('(300 chars)');
  });

  it('refuses a ref over MAX_REF_LENGTH before parsing it, quoting only its start', () => {
    const long = `v:${'f'.repeat(10_000)}`;
    expect(() => parseFeatureRef(long)).toThrow(TesseraError);
    try {
      parseFeatureRef(long);
    } catch (error) {
      expect((error as TesseraError).code).toBe('INVALID_ARGUMENT');
      expect((error as TesseraError).message).toContain(`(10002 chars)`);
      expect((error as TesseraError).message).toContain(String(MAX_REF_LENGTH));
      expect((error as TesseraError).message.length).toBeLessThan(200);
    }
  });
});
