import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseTimestamp } from '../src/timestamps.js';

const MARCH_1_2024 = Date.UTC(2024, 2, 1);

describe('parseTimestamp', () => {
  it.each<[string | number | bigint, number]>([
    ['2024-03-01T10:00:00Z', MARCH_1_2024 + 10 * 3_600_000],
    ['2024-03-01T10:00:00z', MARCH_1_2024 + 10 * 3_600_000],
    ['2024-03-01t10:00:00Z', MARCH_1_2024 + 10 * 3_600_000],
    ['2024-03-01 10:00:00Z', MARCH_1_2024 + 10 * 3_600_000],
    ['2024-03-01T10:00:00+02:00', MARCH_1_2024 + 8 * 3_600_000],
    ['2024-03-01T10:00:00-05:30', MARCH_1_2024 + 15.5 * 3_600_000],
    ['2024-03-01T00:30:00+01:00', MARCH_1_2024 - 30 * 60_000],
    ['2024-03-01T10:00:00.5Z', MARCH_1_2024 + 10 * 3_600_000 + 500],
    ['2024-03-01T10:00:00.25Z', MARCH_1_2024 + 10 * 3_600_000 + 250],
    ['2024-03-01T10:00:00.123Z', MARCH_1_2024 + 10 * 3_600_000 + 123],
    ['2024-03-01T10:00:00.123000Z', MARCH_1_2024 + 10 * 3_600_000 + 123],
    ['2024-03-01T10:00:00.123000000+00:00', MARCH_1_2024 + 10 * 3_600_000 + 123],
    ['2024-03-01', MARCH_1_2024],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['2000-02-29', Date.UTC(2000, 1, 29)],
    ['1970-01-01T00:00:00Z', 0],
    ['1969-12-31T23:59:59.999Z', -1],
    ['0001-01-01', Date.parse('0001-01-01T00:00:00Z')],
    ['9999-12-31T23:59:59.999Z', Date.parse('9999-12-31T23:59:59.999Z')],
    [1_709_287_200_000, 1_709_287_200_000],
    [0, 0],
    [-5, -5],
    [1_709_287_200_000n, 1_709_287_200_000],
    [8_640_000_000_000_000, 8_640_000_000_000_000],
  ])('parses %s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });

  it('agrees with Date.parse on random RFC 3339 strings', () => {
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor((Math.random() - 0.3) * 4e12);
      const iso = new Date(ms).toISOString();
      expect(parseTimestamp(iso)).toBe(ms);
    }
  });

  it.each<[string | number | bigint]>([
    ['2024-03-01T10:00:00'], // no zone: local time is ambiguous
    ['2024-03-01T10:00Z'], // seconds are required
    ['2024-03-01T10:00:00.1234Z'], // below millisecond precision
    ['2024-03-01T10:00:00.Z'],
    ['2024-03-01T24:00:00Z'],
    ['2024-03-01T10:60:00Z'],
    ['2024-03-01T10:00:60Z'], // leap second
    ['2024-02-30'],
    ['2023-02-29'],
    ['1900-02-29'],
    ['2024-13-01'],
    ['2024-00-10'],
    ['2024-03-00'],
    ['2024-3-1'],
    ['24-03-01'],
    ['+002024-03-01'],
    ['2024-03-01T10:00:00+0200'],
    ['2024-03-01T10:00:00+24:00'],
    ['2024-03-01T10:00:00 Z'],
    [' 2024-03-01'],
    ['2024-03-01\n'],
    ['03/01/2024'],
    ['1 March 2024'],
    ['Fri, 01 Mar 2024 10:00:00 GMT'],
    ['1709287200000'], // digit strings are not guessed
    [''],
    ['now'],
    [1.5],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [8_640_000_000_000_001],
    [2n ** 63n],
  ])('rejects %s', (input) => {
    expect(parseTimestamp(input)).toBeUndefined();
  });

  it('turns -0 into 0', () => {
    expect(Object.is(parseTimestamp(-0), 0)).toBe(true);
  });
});

describe('formatTimestamp', () => {
  it('formats ISO 8601 UTC with milliseconds and round-trips through parseTimestamp', () => {
    expect(formatTimestamp(MARCH_1_2024 + 10 * 3_600_000)).toBe('2024-03-01T10:00:00.000Z');
    expect(formatTimestamp(-1)).toBe('1969-12-31T23:59:59.999Z');
    for (const ms of [0, -1, 1_709_287_200_123, -62_135_596_800_000, 253_402_300_799_999]) {
      expect(parseTimestamp(formatTimestamp(ms))).toBe(ms);
    }
  });
});
