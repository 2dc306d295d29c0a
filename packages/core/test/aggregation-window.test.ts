import { describe, expect, it } from 'vitest';
import {
  DAY_MILLIS,
  HOUR_MILLIS,
  MINUTE_MILLIS,
  defaultHopMillis,
  eventEligibility,
  floorTo,
  inWindow,
  tileIndex,
  windowProblem,
  windowStart,
} from '../src/index.js';

describe('window math (§1.4)', () => {
  it('floors to the hop, also for negative times (a true floor, not truncation)', () => {
    expect(floorTo(7, 5)).toBe(5);
    expect(floorTo(5, 5)).toBe(5);
    expect(floorTo(0, 5)).toBe(0);
    expect(floorTo(-1, 5)).toBe(-5);
    expect(floorTo(-5, 5)).toBe(-5);
    expect(floorTo(-6, 5)).toBe(-10);
    expect(floorTo(-2_208_988_800_001, DAY_MILLIS)).toBe(-2_208_988_800_000 - DAY_MILLIS); // 1899-12-31
    expect(tileIndex(-1, HOUR_MILLIS)).toBe(-1);
    expect(tileIndex(0, HOUR_MILLIS)).toBe(0);
    expect(tileIndex(HOUR_MILLIS - 1, HOUR_MILLIS)).toBe(0);
  });

  it('starts the window at floor(t − W, h): the tail snaps down, the head is exact', () => {
    const t = Date.UTC(2024, 2, 8, 10, 37, 12, 345);
    expect(windowStart(t, 7 * DAY_MILLIS, HOUR_MILLIS)).toBe(Date.UTC(2024, 2, 1, 10));
    expect(windowStart(t, 30 * DAY_MILLIS, DAY_MILLIS)).toBe(Date.UTC(2024, 1, 7));
    expect(windowStart(Date.UTC(2024, 2, 8, 10), HOUR_MILLIS, 5 * MINUTE_MILLIS)).toBe(Date.UTC(2024, 2, 8, 9));
  });

  it('includes both edges: the event at t and the event at start(t)', () => {
    const W = HOUR_MILLIS;
    const h = 5 * MINUTE_MILLIS;
    const t = 10 * HOUR_MILLIS + 7 * MINUTE_MILLIS;
    const start = windowStart(t, W, h);
    expect(inWindow(t, t, W, h)).toBe(true);
    expect(inWindow(t + 1, t, W, h)).toBe(false);
    expect(inWindow(start, t, W, h)).toBe(true);
    expect(inWindow(start - 1, t, W, h)).toBe(false);
    expect(inWindow(-1e12, t, 0, 0)).toBe(true); // unbounded: everything up to t
    expect(inWindow(t + 1, t, 0, 0)).toBe(false);
  });

  it('assigns default hops by window length', () => {
    expect(defaultHopMillis(HOUR_MILLIS)).toBe(5 * MINUTE_MILLIS);
    expect(defaultHopMillis(12 * HOUR_MILLIS - 1)).toBe(5 * MINUTE_MILLIS);
    expect(defaultHopMillis(12 * HOUR_MILLIS)).toBe(HOUR_MILLIS);
    expect(defaultHopMillis(7 * DAY_MILLIS)).toBe(HOUR_MILLIS);
    expect(defaultHopMillis(12 * DAY_MILLIS)).toBe(DAY_MILLIS);
    expect(defaultHopMillis(0)).toBe(0);
  });

  it('names the broken window rule and the valid neighbours', () => {
    expect(windowProblem(7 * DAY_MILLIS, 5 * MINUTE_MILLIS)).toBeUndefined(); // exactly 2,016 tiles
    expect(windowProblem(400 * DAY_MILLIS, DAY_MILLIS)).toBeUndefined();
    expect(windowProblem(0, 0)).toBeUndefined();
    expect(windowProblem(100 * MINUTE_MILLIS, 15 * MINUTE_MILLIS)).toBe(
      'window 6000000 ms is not a multiple of hop 900000 ms; use 5400000 ms or 6300000 ms',
    );
    expect(windowProblem(7 * DAY_MILLIS + 5 * MINUTE_MILLIS, 5 * MINUTE_MILLIS)).toMatch(/more than 2016/);
    expect(windowProblem(401 * DAY_MILLIS, DAY_MILLIS)).toMatch(/longer than 400d/);
    expect(windowProblem(HOUR_MILLIS, 2 * MINUTE_MILLIS)).toMatch(/not one of 1m, 5m, 15m, 1h, 1d/);
    expect(windowProblem(0, HOUR_MILLIS)).toMatch(/unbounded window has no hop/);
  });
});

describe('eligibility (§1.3)', () => {
  const now = 1_000_000_000;
  const L = HOUR_MILLIS;
  const F = 60_000;
  it('is eligible on both edges, late below now − L, future above now + F', () => {
    expect(eventEligibility(now - L, now, L, F)).toBe('eligible');
    expect(eventEligibility(now - L - 1, now, L, F)).toBe('late');
    expect(eventEligibility(now + F, now, L, F)).toBe('eligible');
    expect(eventEligibility(now + F + 1, now, L, F)).toBe('future');
    expect(eventEligibility(now, now, L, F)).toBe('eligible');
    expect(eventEligibility(-5, 0, 0, 0)).toBe('late');
  });
});
