import { describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import { Lane, createLanes, DEFAULT_HISTORICAL_LANE_LIMIT, DEFAULT_MATERIALIZE_LANE_LIMIT } from '../src/lanes.js';

function refusal(lane: Lane): unknown {
  try {
    lane.enter();
  } catch (error) {
    return error;
  }
  throw new Error('expected the lane to be full');
}

describe('lanes', () => {
  it('refuses a call beyond the limit with RESOURCE_EXHAUSTED naming the lane and limit, and frees a slot once', () => {
    const lane = new Lane('materialize', 2);
    const first = lane.enter();
    lane.enter();
    const error = refusal(lane);
    expect(isTesseraError(error) && error.code).toBe('RESOURCE_EXHAUSTED');
    expect(String(error)).toMatch(/the materialize lane is full \(2 running at once\)/);
    first();
    first(); // a second release frees nothing more
    expect(lane.active).toBe(1);
    lane.enter();
    expect(isTesseraError(refusal(lane))).toBe(true);
  });

  it('keeps the lanes of one server apart, with their defaults', () => {
    const lanes = createLanes({ historical: 1 });
    lanes.historical.enter();
    expect(isTesseraError(refusal(lanes.historical))).toBe(true);
    // A full historical lane leaves Materialize its own slots.
    expect(lanes.materialize.limit).toBe(DEFAULT_MATERIALIZE_LANE_LIMIT);
    for (let i = 0; i < DEFAULT_MATERIALIZE_LANE_LIMIT; i += 1) lanes.materialize.enter();
    expect(createLanes().historical.limit).toBe(DEFAULT_HISTORICAL_LANE_LIMIT);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new Lane('historical', 0)).toThrow(/the historical lane limit must be a positive integer, got 0/);
  });
});
