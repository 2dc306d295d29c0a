import { afterEach, describe, expect, it, vi } from 'vitest';
import { stderrLogger } from '../src/index.js';

describe('stderrLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  function capture(): string[] {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    return written;
  }

  it('writes warnings and errors as JSON lines with bindings and error messages, and nothing below warn', () => {
    const written = capture();
    const logger = stderrLogger({ component: 'outbox' }).child({ view: 'clicks' });
    logger.info({ rows: 3 }, 'not written');
    logger.warn({ rows: 3, err: new RangeError('disk full') }, 'insert failed');
    vi.restoreAllMocks();
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0]!)).toMatchObject({
      level: 'warn',
      component: 'outbox',
      view: 'clicks',
      rows: 3,
      err: { type: 'RangeError', message: 'disk full' },
      msg: 'insert failed',
    });
  });

  it('never throws on fields JSON cannot hold: bigints as strings, a cycle dropped', () => {
    const written = capture();
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    const logger = stderrLogger();
    expect(() => logger.error({ rows: 12n }, 'big')).not.toThrow();
    expect(() => logger.error({ cycle }, 'cyclic')).not.toThrow();
    vi.restoreAllMocks();
    expect(JSON.parse(written[0]!)).toMatchObject({ rows: '12', msg: 'big' });
    expect(JSON.parse(written[1]!)).toMatchObject({ level: 'error', msg: 'cyclic', fields: 'unserializable' });
  });
});
