import { describe, expect, it } from 'vitest';
import { withOnlineGenerations, type OfflineBatch } from '../src/index.js';

const offline: OfflineBatch = {
  joinKeyValues: [[1n], [2n], [3n]],
  eventTsMillis: Float64Array.of(1, 2, 3),
  featureValues: [],
};

describe('withOnlineGenerations (online_gen from the online fold, design §1.6)', () => {
  it('gives each event’s row the generation the fold answered, 0 to excluded rows', () => {
    const out = withOnlineGenerations(
      offline,
      { batch: { field: 'f', ttlMillis: 0, keys: [], rows: [] }, eventRows: [0, 2] },
      { applied: 0, stale: 0, duplicateEvents: 1, eventGenerations: Uint32Array.of(1, 1) },
    );
    expect([...(out.onlineGenerations ?? [])]).toEqual([1, 0, 1]);
  });

  it('leaves a batch without events (or without an online answer) as it is', () => {
    expect(withOnlineGenerations(offline, undefined, undefined)).toBe(offline);
    const online = { batch: { field: 'f', ttlMillis: 0, keys: [], rows: [] } };
    expect(withOnlineGenerations(offline, online, { applied: 0, stale: 0 })).toBe(offline);
  });
});
