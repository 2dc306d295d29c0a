import { describe, expect, it } from 'vitest';
import { TesseraError } from '../src/errors.js';
import { MAX_ENTITY_KEY_BYTES, MAX_STRING_KEY_BYTES } from '../src/keys.js';
import type { RegisteredView } from '../src/model.js';
import { validateWriteBatch } from '../src/validate-write.js';

const view: RegisteredView = {
  id: 1,
  version: 1,
  name: 'products',
  entities: ['product'],
  joinKeys: [{ name: 'product_id', type: 'string' }],
  features: [
    {
      name: 'label',
      type: 'string',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
  ],
  ttlSeconds: 0,
} as unknown as RegisteredView;

function refusal(work: () => unknown): TesseraError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(TesseraError);
    return error as TesseraError;
  }
  throw new Error('accepted');
}

const NOW = Date.UTC(2026, 0, 1);

describe('validateWriteBatch bounds', () => {
  it('refuses event times past now + skew and before the minimum, naming the row', () => {
    const input = { columns: { product_id: ['a', 'b', 'c'] }, eventTimestamps: [NOW, NOW + 2_000, NOW - 10_000] };
    const error = refusal(() =>
      validateWriteBatch(view, input, { nowMillis: NOW, maxEventTimeSkewMillis: 1_000, minEventTsMillis: NOW - 5_000 }),
    );
    expect(error.message).toContain('row 1, event timestamp');
    expect(error.details.map((d) => d.path)).toEqual(['row 1, event timestamp', 'row 2, event timestamp']);
    expect(
      validateWriteBatch(view, input, { nowMillis: NOW, maxEventTimeSkewMillis: 5_000, minEventTsMillis: NOW - 20_000 })
        .rowCount,
    ).toBe(3);
  });

  it('counts string keys in UTF-8 bytes and bounds the encoded entity key', () => {
    const fits = 'ß'.repeat(MAX_STRING_KEY_BYTES / 2);
    expect(validateWriteBatch(view, { columns: { product_id: [fits] }, eventTimestamps: [NOW] }).rowCount).toBe(1);
    const over = refusal(() =>
      validateWriteBatch(view, { columns: { product_id: [`${fits}x`] }, eventTimestamps: [NOW] }),
    );
    expect(over.message).toContain('row 0, column product_id');
    const escaped = refusal(() =>
      validateWriteBatch(view, {
        columns: { product_id: ['}'.repeat(MAX_ENTITY_KEY_BYTES / 2)] },
        eventTimestamps: [NOW],
      }),
    );
    expect(escaped.message).toContain('MAX_ENTITY_KEY_BYTES');
  });
});
