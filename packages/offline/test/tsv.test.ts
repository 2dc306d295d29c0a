import { describe, expect, it } from 'vitest';
import {
  escapeQuotedString,
  escapeTsvBytes,
  escapeTsvString,
  formatDateTime64Micros,
  formatDateTime64Millis,
  formatDouble,
} from '../src/index.js';

describe('TabSeparated encoding', () => {
  it('escapes the characters TabSeparated gives meaning to', () => {
    expect(escapeTsvString('a\tb\nc\\d\re\0f')).toBe('a\\tb\\nc\\\\d\\re\\0f');
    expect(escapeTsvString('plain 🌍')).toBe('plain 🌍');
    expect(escapeTsvString('\\N')).toBe('\\\\N');
  });

  it('quotes strings inside arrays with ClickHouse literal escapes', () => {
    expect(escapeQuotedString("it's\t\\")).toBe("it\\'s\\t\\\\");
  });

  it('writes bytes as pure ASCII, hex-escaping everything unusual', () => {
    expect(escapeTsvBytes(Uint8Array.from([0x41, 0, 0x5c, 0xff, 0x09]))).toBe('A\\x00\\x5c\\xff\\x09');
  });

  it('writes doubles in their shortest exact form, keeping -0, nan and inf', () => {
    expect([0.1, -0, 0, Number.NaN, Infinity, -Infinity, 1e21, 5e-324].map(formatDouble)).toEqual([
      '0.1',
      '-0',
      '0',
      'nan',
      'inf',
      '-inf',
      '1e+21',
      '5e-324',
    ]);
  });

  it('writes timestamps as UTC DateTime64 text, and refuses what DateTime64 cannot hold', () => {
    expect(formatDateTime64Millis(1_700_000_000_123)).toBe('2023-11-14 22:13:20.123');
    expect(formatDateTime64Millis(-1)).toBe('1969-12-31 23:59:59.999');
    expect(formatDateTime64Millis(-2_208_988_800_000)).toBe('1900-01-01 00:00:00.000');
    expect(formatDateTime64Millis(-2_208_988_800_001)).toBeUndefined();
    expect(formatDateTime64Millis(10_413_792_000_000)).toBeUndefined();
    expect(formatDateTime64Millis(1.5)).toBeUndefined();
    expect(formatDateTime64Micros(1_700_000_000_123_456n)).toBe('2023-11-14 22:13:20.123456');
  });
});
