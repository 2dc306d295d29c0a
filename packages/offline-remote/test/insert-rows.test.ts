/**
 * The Insert of the offline server's protocol: a batch survives the trip whole (fingerprints,
 * exclusions and online generations of event views included), and a request whose columns do not
 * match its rows is refused naming what was wrong.
 */
import { describe, expect, it } from 'vitest';
import { isTesseraError, type OfflineBatch, type RegisteredView } from '@tessera/core';
import { fromInsertRequest, toInsertRequest } from '../src/rows.js';

const view: RegisteredView = {
  name: 'clicks',
  kind: 'events',
  id: 7,
  version: 1,
  entities: ['customer'],
  joinKeys: [{ name: 'customer_id', type: 'int64' }],
  features: [
    { name: 'page', type: 'string', constraints: {}, description: '', tags: {} },
    { name: 'n', type: 'int64', constraints: {}, description: '', tags: {} },
  ] as unknown as RegisteredView['features'],
  ttlSeconds: 0,
  owner: '',
  tags: {},
  description: '',
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

const batch: OfflineBatch = {
  joinKeyValues: [[1n], [2n]],
  eventTsMillis: Float64Array.of(1_700_000_000_000, 1_700_000_000_001),
  featureValues: [
    ['a', null],
    [1n, 2n],
  ],
  fingerprints: new Uint8Array(32).map((_, i) => i),
  exclusions: Uint8Array.of(0, 2),
  onlineGenerations: Uint32Array.of(1, 0),
};

function refusal(change: (r: ReturnType<typeof toInsertRequest>) => void): string {
  const request = toInsertRequest(view, batch, 'token');
  change(request);
  try {
    fromInsertRequest(view, request);
  } catch (error) {
    if (isTesseraError(error) && error.code === 'INVALID_ARGUMENT') return error.message;
    throw error;
  }
  throw new Error('accepted');
}

describe('offline server Insert rows', () => {
  it('carries a batch whole, event-view columns included', () => {
    const request = toInsertRequest(view, batch, 'token');
    expect(request.dedupToken).toBe('token');
    expect(fromInsertRequest(view, request)).toEqual(batch);
  });

  it('treats absent event-view columns as absent (old writers)', () => {
    const plain = { ...batch };
    delete (plain as { fingerprints?: Uint8Array }).fingerprints;
    delete (plain as { exclusions?: Uint8Array }).exclusions;
    delete (plain as { onlineGenerations?: Uint32Array }).onlineGenerations;
    expect(fromInsertRequest(view, toInsertRequest(view, plain, ''))).toEqual(plain);
  });

  it('refuses columns that do not match the rows, naming them', () => {
    expect(refusal((r) => r.features.push(r.features[0]!))).toBe(
      'Insert into clicks@1: 3 feature columns, the view has 2',
    );
    expect(refusal((r) => r.createdTsMicros.push(1n))).toBe('Insert into clicks@1: 1 created times for 2 rows');
    expect(refusal((r) => (r.fingerprints = Buffer.alloc(31)))).toBe(
      'Insert into clicks@1: 31 fingerprint bytes for 2 rows (16 per row)',
    );
    expect(refusal((r) => (r.exclusions = Buffer.of(0)))).toBe('Insert into clicks@1: 1 exclusion codes for 2 rows');
    expect(refusal((r) => (r.exclusions = Buffer.of(0, 3)))).toBe(
      'Insert into clicks@1: exclusion codes are 0 (eligible), 1 (late) or 2 (future)',
    );
    expect(refusal((r) => (r.onlineGenerations = [1, 1, 1]))).toBe(
      'Insert into clicks@1: 3 online generations for 2 rows',
    );
  });
});
