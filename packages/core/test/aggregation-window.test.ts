import { describe, expect, it } from 'vitest';
import {
  DAY_MILLIS,
  HOUR_MILLIS,
  MINUTE_MILLIS,
  eventEligibility,
  floorTo,
  inWindow,
  tileIndex,
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
