import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_ENTITY_KEY_BYTES, isTesseraError, type OnlineStore } from '@tessera/core';

/** What the suite needs from one implementation. */
export interface OnlineStoreHarness {
  /** A store over an empty namespace (fresh key prefix or directory). */
  create(): Promise<OnlineStore>;
  /** Deletes rows past retention now, for stores that sweep; Redis expires keys by itself. */
  collectExpired?(store: OnlineStore): Promise<void>;
  /** Absolute expiry (ms) of an entity key, -1 when persistent, -2 when absent: stores with key-level expiry. */
  keyExpireTime?(store: OnlineStore, key: string): Promise<number>;
}

const HOUR_MILLIS = 3_600_000;

/** A packed row: format version 1, event ts as LE float64, then the payload as UTF-8. */
export function packRow(eventTs: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const row = Buffer.alloc(9 + body.length);
  row.writeUInt8(1, 0);
  row.writeDoubleLE(eventTs, 1);
  body.copy(row, 9);
  return row;
}

/** Payload of a packed row, or null. */
export function payloadOf(row: Uint8Array | null | undefined): string | null {
  return row ? Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('utf8', 9) : null;
}

function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, millis)));
}

let keyCounter = 0;
/** An entity key no other test uses. */
function freshKey(name: string): string {
  keyCounter++;
  return `{suite:${name}-${keyCounter}}`;
}

/** The behavioural suite every OnlineStore implementation passes. */
export function describeOnlineStore(name: string, harness: OnlineStoreHarness): void {
  describe(`${name} (OnlineStore suite)`, () => {
    let store: OnlineStore;
    const collect = async (): Promise<void> => {
      await harness.collectExpired?.(store);
    };
    const readOne = async (key: string, field: string): Promise<string | null> => {
      const [[row] = []] = await store.read([{ key, fields: [field] }]);
      return payloadOf(row);
    };
    const writeOne = (key: string, field: string, eventTs: number, payload: string, ttlMillis = 0) =>
      store.write({ field, ttlMillis, keys: [key], rows: [packRow(eventTs, payload)] });

    beforeAll(async () => {
      store = await harness.create();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('reads null for an absent entity and field', async () => {
      const key = freshKey('absent');
      await expect(store.read([{ key, fields: ['1.1', '2.1'] }])).resolves.toEqual([[null, null]]);
      await expect(store.read([])).resolves.toEqual([]);
      await expect(store.read([{ key, fields: [] }])).resolves.toEqual([[]]);
    });

    it('reads back the row it wrote, byte for byte', async () => {
      const key = freshKey('roundtrip');
      const row = packRow(1_700_000_000_123, 'hello \u00e9');
      await expect(store.write({ field: '1.1', ttlMillis: 0, keys: [key], rows: [row] })).resolves.toEqual({
        applied: 1,
        stale: 0,
      });
      const [[stored]] = (await store.read([{ key, fields: ['1.1'] }])) as [[Uint8Array]];
      expect(Buffer.from(stored).equals(row)).toBe(true);
    });

    it("updates one view's row and leaves the entity's other views alone", async () => {
      const key = freshKey('views');
      await writeOne(key, 'a.1', 1000, 'A1');
      await writeOne(key, 'b.1', 1000, 'B1');
      await writeOne(key, 'a.1', 2000, 'A2');
      const [rows = []] = await store.read([{ key, fields: ['a.1', 'b.1', 'c.1'] }]);
      expect(rows.map(payloadOf)).toEqual(['A2', 'B1', null]);
    });

    it('keeps the newer value when an older event arrives late', async () => {
      const key = freshKey('late');
      await writeOne(key, '1.1', 2000, 'newer');
      await expect(writeOne(key, '1.1', 1000, 'older')).resolves.toEqual({ applied: 0, stale: 1 });
      expect(await readOne(key, '1.1')).toBe('newer');
    });

    it('lets the later arrival win when event timestamps are equal', async () => {
      const key = freshKey('tie');
      await writeOne(key, '1.1', 1000, 'first');
      await expect(writeOne(key, '1.1', 1000, 'second')).resolves.toEqual({ applied: 1, stale: 0 });
      expect(await readOne(key, '1.1')).toBe('second');
    });

    it('is idempotent when an event is replayed', async () => {
      const key = freshKey('replay');
      await writeOne(key, '1.1', 1000, 'event');
      await writeOne(key, '1.1', 3000, 'later');
      await writeOne(key, '1.1', 1000, 'event');
      await writeOne(key, '1.1', 3000, 'later');
      expect(await readOne(key, '1.1')).toBe('later');
    });

    it('counts applied and stale rows of a batch', async () => {
      const keys = [freshKey('batch'), freshKey('batch'), freshKey('batch'), freshKey('batch')];
      await store.write({
        field: '1.1',
        ttlMillis: 0,
        keys: [keys[1]!, keys[3]!],
        rows: [packRow(5000, 'x'), packRow(5000, 'y')],
      });
      const result = await store.write({
        field: '1.1',
        ttlMillis: 0,
        keys,
        rows: keys.map((_, i) => packRow(3000, `new${i}`)),
      });
      expect(result).toEqual({ applied: 2, stale: 2 });
      const rows = await store.read(keys.map((key) => ({ key, fields: ['1.1'] })));
      expect(rows.map(([row]) => payloadOf(row))).toEqual(['new0', 'x', 'new2', 'y']);
    });

    it('reads 1,000 entities spread over all slots in one call, in order', async () => {
      const keys = Array.from({ length: 1000 }, (_, i) => `{many:${i}}`);
      const eventTs = Date.now();
      await expect(
        store.write({
          field: 'm.1',
          ttlMillis: HOUR_MILLIS,
          keys,
          rows: keys.map((_, i) => packRow(eventTs, `v${i}`)),
        }),
      ).resolves.toEqual({ applied: 1000, stale: 0 });
      const lookups = keys.map((key, i) => ({ key, fields: i % 2 === 0 ? ['m.1', 'none.1'] : ['none.1', 'm.1'] }));
      const rows = await store.read(lookups);
      expect(rows).toHaveLength(1000);
      rows.forEach((entity, i) => {
        expect(entity.map(payloadOf)).toEqual(i % 2 === 0 ? [`v${i}`, null] : [null, `v${i}`]);
      });
    });

    it('rejects a batch whose rows do not line up or lack the header', async () => {
      const key = freshKey('invalid');
      const short = store.write({ field: '1.1', ttlMillis: 0, keys: [key], rows: [new Uint8Array(4)] });
      await expect(short).rejects.toSatisfy((e) => isTesseraError(e) && e.code === 'INVALID_ARGUMENT');
      const misaligned = store.write({ field: '1.1', ttlMillis: 0, keys: [key, key], rows: [packRow(1, '')] });
      await expect(misaligned).rejects.toSatisfy((e) => isTesseraError(e) && e.code === 'INVALID_ARGUMENT');
    });

    it('takes keys up to MAX_ENTITY_KEY_BYTES and refuses longer ones with INVALID_ARGUMENT, whatever the store', async () => {
      const fits = `{suite:${'k'.repeat(MAX_ENTITY_KEY_BYTES - 8)}}`;
      expect(Buffer.byteLength(fits)).toBe(MAX_ENTITY_KEY_BYTES);
      await writeOne(fits, '1.1', 1, 'fits');
      expect(await readOne(fits, '1.1')).toBe('fits');
      const tooLong = `{suite:${'k'.repeat(MAX_ENTITY_KEY_BYTES - 7)}}`;
      const refused = writeOne(tooLong, '1.1', 1, 'no');
      await expect(refused).rejects.toSatisfy(
        (e) => isTesseraError(e) && e.code === 'INVALID_ARGUMENT' && e.message.includes('MAX_ENTITY_KEY_BYTES'),
      );
      expect(await readOne(tooLong, '1.1')).toBeNull();
    });

    describe('retention', () => {
      it('still returns rows that are EXPIRED but within retention', async () => {
        const key = freshKey('expired-retained');
        const ttlMillis = 60_000;
        await writeOne(key, '1.1', Date.now() - 1.5 * ttlMillis, 'expired', ttlMillis);
        await collect();
        expect(await readOne(key, '1.1')).toBe('expired');
      });

      it('drops a key once all its rows passed retention', async () => {
        const key = freshKey('gone');
        const ttlMillis = 2_000;
        const dueAt = Date.now() + 400;
        // Retention is 2 × TTL from the event time: these rows are due in ~400 ms.
        await writeOne(key, '1.1', dueAt - 2 * ttlMillis, 'one', ttlMillis);
        await writeOne(key, '2.1', dueAt - 2 * ttlMillis - 100, 'two', ttlMillis);
        expect(await readOne(key, '1.1')).toBe('one');
        await sleep(dueAt - Date.now() + 300);
        await collect();
        await expect(store.read([{ key, fields: ['1.1', '2.1'] }])).resolves.toEqual([[null, null]]);
        if (harness.keyExpireTime) expect(await harness.keyExpireTime(store, key)).toBe(-2);
      });

      it('does not store a row that arrives already past retention', async () => {
        const key = freshKey('dead-on-arrival');
        await writeOne(key, '1.1', Date.now() - 10_000, 'dead', 1_000);
        await collect();
        expect(await readOne(key, '1.1')).toBeNull();
      });

      it('keeps rows of a ttl 0 view forever', async () => {
        const key = freshKey('persistent');
        await writeOne(key, '1.1', 1, 'forever', 0);
        await writeOne(key, '2.1', Date.now(), 'short', 1_000);
        await collect();
        expect(await readOne(key, '1.1')).toBe('forever');
        if (harness.keyExpireTime) expect(await harness.keyExpireTime(store, key)).toBe(-1);
      });

      it('keeps the expiry of a long-TTL view when a short-TTL view is written', async () => {
        const key = freshKey('long-short');
        const now = Date.now();
        await writeOne(key, 'long.1', now, 'long', HOUR_MILLIS);
        const before = await harness.keyExpireTime?.(store, key);
        await writeOne(key, 'short.1', now - 1_900, 'short', 1_000);
        if (harness.keyExpireTime) {
          expect(before).toBe(Math.ceil(now + 2 * HOUR_MILLIS));
          expect(await harness.keyExpireTime(store, key)).toBe(before);
        }
        await sleep(300);
        await collect();
        expect(await readOne(key, 'long.1')).toBe('long');
      });

      it('extends the expiry when a newer row of the same view arrives', async () => {
        const key = freshKey('extend');
        const now = Date.now();
        await writeOne(key, '1.1', now - 1_900, 'old', 1_000);
        await writeOne(key, '1.1', now, 'new', 1_000);
        if (harness.keyExpireTime) expect(await harness.keyExpireTime(store, key)).toBe(Math.ceil(now + 2_000));
        await sleep(300);
        await collect();
        expect(await readOne(key, '1.1')).toBe('new');
      });
    });

    it('stores the row with the latest event time (latest arrival among ties), whatever the arrival order', async () => {
      // A narrow range of event times makes ties frequent; arrival order is the array order.
      const writes = fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 12 });
      await fc.assert(
        fc.asyncProperty(writes, async (sequence) => {
          const key = freshKey('property');
          let expected: { eventTs: number; payload: string } | undefined;
          for (let i = 0; i < sequence.length; i++) {
            const eventTs = sequence[i]!;
            const payload = `w${i}`;
            const result = await writeOne(key, '1.1', eventTs, payload);
            const applies = expected === undefined || eventTs >= expected.eventTs;
            expect(result).toEqual(applies ? { applied: 1, stale: 0 } : { applied: 0, stale: 1 });
            if (applies) expected = { eventTs, payload };
          }
          expect(await readOne(key, '1.1')).toBe(expected?.payload);
        }),
        { numRuns: 60 },
      );
    });
  });
}
