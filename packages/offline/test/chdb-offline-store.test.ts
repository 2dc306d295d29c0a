import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import { ChdbExecutor, ClickHouseOfflineStore, openEmbeddedOfflineStore } from '../src/index.js';
import { describeOfflineStore, freshDatabaseName } from './offline-store-suite.js';

// One chDB data directory for this whole file (this file is its own process: vitest forks).
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-offline-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describeOfflineStore('chDB', {
  open: (database) => openEmbeddedOfflineStore(dataDir, { database }),
});

describe('ChdbExecutor', () => {
  let executor: ChdbExecutor;
  beforeAll(() => {
    executor = ChdbExecutor.open({ path: join(dataDir, 'offline') });
  });
  afterAll(() => executor.close());

  it('refuses a second data directory in one process, saying what to do', () => {
    let error: unknown;
    try {
      ChdbExecutor.open({ path: join(dataDir, 'elsewhere') });
    } catch (e) {
      error = e;
    }
    expect(isTesseraError(error) && error.code).toBe('FAILED_PRECONDITION');
    expect(String(error)).toMatch(/one data directory per process.*elsewhere/s);
  });

  it('shares one engine between executors of the same directory', async () => {
    const second = ChdbExecutor.open({ path: join(dataDir, 'offline') });
    await second.close();
    // Closing one leaves the other working.
    expect(await executor.queryJson<{ x: string }>('SELECT 1 AS x')).toEqual([{ x: 1 }]);
  });

  it('returns Int64 as strings in JSON, as a ClickHouse server does', async () => {
    expect(await executor.queryJson('SELECT toInt64(9223372036854775807) AS x')).toEqual([
      { x: '9223372036854775807' },
    ]);
  });

  it('runs other queries while a stream is open (each stream has a Session of its own)', async () => {
    let chunks = 0;
    let answered = 0;
    for await (const chunk of executor.queryStream('SELECT number FROM numbers(3000000)', undefined, {
      format: 'RowBinary',
    })) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      chunks++;
      if (chunks <= 3) {
        const [row] = await executor.queryJson<{ answer: number }>('SELECT 42 AS answer');
        answered += row?.answer === 42 ? 1 : 0;
      }
    }
    expect(chunks).toBeGreaterThan(3);
    expect(answered).toBe(3);
  });

  it('runs two streams at once', async () => {
    const count = async (): Promise<number> => {
      let bytes = 0;
      for await (const chunk of executor.queryStream('SELECT number FROM numbers(1000000)', undefined, {
        format: 'RowBinary',
      })) {
        bytes += chunk.byteLength;
      }
      return bytes;
    };
    expect(await Promise.all([count(), count()])).toEqual([8_000_000, 8_000_000]);
  });

  it('cancels a stream through its signal with DEADLINE_EXCEEDED', async () => {
    const controller = new AbortController();
    let chunks = 0;
    const error = await (async () => {
      for await (const _chunk of executor.queryStream('SELECT number FROM system.numbers', undefined, {
        format: 'RowBinary',
        signal: controller.signal,
      })) {
        if (++chunks === 2) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(isTesseraError(error) && error.code).toBe('DEADLINE_EXCEEDED');
  });

  it('stops the query when the consumer breaks out of a stream', async () => {
    for await (const _chunk of executor.queryStream('SELECT number FROM system.numbers', undefined, {
      format: 'RowBinary',
    })) {
      break;
    }
    expect(await executor.queryJson('SELECT 1 AS x')).toEqual([{ x: 1 }]);
  });

  it('returns binary formats intact (ArrowStream, uncompressed)', async () => {
    const bytes = await executor.queryBytes('SELECT toFloat64(number) AS x FROM numbers(10)', undefined, {
      format: 'ArrowStream',
    });
    // An Arrow IPC stream starts with the continuation marker 0xFFFFFFFF.
    expect(Array.from(bytes.subarray(0, 4))).toEqual([255, 255, 255, 255]);
    expect(Buffer.from(bytes).includes(Buffer.from('LZ4'))).toBe(false);
  });

  it('maps a syntax error to INVALID_ARGUMENT naming SYNTAX_ERROR', async () => {
    const error = await executor.command('SELEC 1').catch((e: unknown) => e);
    expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
    expect(String(error)).toContain('SYNTAX_ERROR');
  });

  it('fails with UNAVAILABLE once closed', async () => {
    const other = ChdbExecutor.open({ path: join(dataDir, 'offline') });
    await other.close();
    const error = await other.command('SELECT 1').catch((e: unknown) => e);
    expect(isTesseraError(error) && error.code).toBe('UNAVAILABLE');
  });
});

describe('ClickHouseOfflineStore', () => {
  it('delegates historical retrieval, failing the stream (not the call) on a bad request', async () => {
    const store = await ClickHouseOfflineStore.open({
      executor: ChdbExecutor.open({ path: join(dataDir, 'offline') }),
      database: freshDatabaseName('hist_placeholder'),
    });
    try {
      const iterator = store.historical({
        entities: { kind: 'sql', sql: 'SELECT 1' },
        features: { views: [], features: [] } as never,
        chunkRows: 10,
        format: 'columns',
      });
      const error = await (async () => {
        for await (const _chunk of iterator) break;
      })().catch((e: unknown) => e);
      expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
    } finally {
      await store.close();
    }
  });

  it('refuses a database name outside the registry rule', async () => {
    const error = await ClickHouseOfflineStore.open({
      executor: ChdbExecutor.open({ path: join(dataDir, 'offline') }),
      database: 'bad-name',
    }).catch((e: unknown) => e);
    expect(isTesseraError(error) && error.code).toBe('INTERNAL');
  });
});
