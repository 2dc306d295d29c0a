import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress } from '../src/progress.js';

function capture(tty: boolean): string[] {
  const writes: string[] = [];
  Object.defineProperty(process.stderr, 'isTTY', { value: tty, configurable: true });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  });
  return writes;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Progress', () => {
  it('draws a bar against a known total and clears its line when done', () => {
    const writes = capture(true);
    const progress = new Progress(200);
    progress.add(200);
    progress.done();
    expect(writes[0]).toBe(`\r[${'#'.repeat(30)}] 200/200 rows`);
    expect(writes.at(-1)).toBe('\r\x1b[K');
  });

  it('counts with a rate when the total is unknown', () => {
    const writes = capture(true);
    new Progress(undefined, 'rows sent').set(1_234);
    expect(writes[0]?.startsWith('\r1234 rows sent (')).toBe(true);
    expect(writes[0]?.endsWith('/s)\x1b[K')).toBe(true);
  });

  it('writes nothing when stderr is not a terminal', () => {
    const writes = capture(false);
    const progress = new Progress(10);
    progress.add(5);
    progress.done();
    expect(writes).toEqual([]);
  });
});
