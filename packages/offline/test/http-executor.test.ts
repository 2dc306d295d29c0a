import { describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import { ClickHouseOfflineStore, HttpExecutor, encodeOfflineBatch } from '../src/index.js';
import { clickHouseException, FakeClickHouseHttpServer, okChunks } from './support/fake-clickhouse-http-server.js';
import { feature, registeredView } from './support/views.js';

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

function basicAuth(header: string | undefined): string {
  return Buffer.from((header ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
}

describe('HttpExecutor at its HTTP boundary (against FakeClickHouseHttpServer)', () => {
  it('sends query parameters as param_* URL parameters, never in the SQL, with the credentials', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    const executor = new HttpExecutor({ url: server.url() });
    try {
      server.respondWith(okChunks('{"x":"1"}\n{"x":"2"}\n'));
      const hostile = "'; DROP TABLE t; --";
      const rows = await executor.queryJson<{ x: string }>(
        'SELECT x FROM t WHERE s = {s:String} AND id IN {ids:Array(Int64)}',
        {
          s: hostile,
          ids: [1n, 9_223_372_036_854_775_807n],
        },
      );
      expect(rows).toEqual([{ x: '1' }, { x: '2' }]);
      const request = server.last;
      expect(request.method).toBe('POST');
      const sql = request.body.toString('utf8');
      expect(sql).toBe('SELECT x FROM t WHERE s = {s:String} AND id IN {ids:Array(Int64)}\nFORMAT JSONEachRow');
      expect(sql).not.toContain('DROP');
      expect(request.url.searchParams.get('param_s')).toBe("\\'; DROP TABLE t; --");
      expect(request.url.searchParams.get('param_ids')).toBe('[1,9223372036854775807]');
      expect(basicAuth(request.headers.authorization)).toBe('tessera:s3cret');
      // The same output settings as chDB, so both engines return the same bytes.
      expect(request.url.searchParams.get('output_format_json_quote_64bit_integers')).toBe('1');
      expect(request.url.searchParams.get('output_format_arrow_compression_method')).toBe('none');
    } finally {
      await executor.close();
    }
  });

  it('sends an insert as its format with the payload as the body and the dedup token as a setting', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    const executor = new HttpExecutor({ url: server.url() });
    try {
      server.respondWith(okChunks());
      const payload = Buffer.from('1\ta\\tb\n2\t\\N\n');
      await executor.insertRaw('tessera.fv_x__v1', payload, {
        format: 'TabSeparated',
        columns: ['id', 'name'],
        settings: { insert_deduplication_token: 'job-7', insert_deduplicate: 1 },
      });
      const request = server.last;
      expect(request.url.searchParams.get('query')).toMatch(
        /^INSERT INTO tessera\.fv_x__v1 \(`?id`?, ?`?name`?\) FORMAT TabSeparated/,
      );
      expect(request.url.searchParams.get('insert_deduplication_token')).toBe('job-7');
      expect(request.body.equals(payload)).toBe(true);
    } finally {
      await executor.close();
    }
  });

  it('streams a result in the chunks the server sends, with FORMAT appended to the SQL', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    const executor = new HttpExecutor({ url: server.url() });
    try {
      server.respondWith(okChunks(Buffer.from([1, 2]), Buffer.from([3]), Buffer.from([4, 5, 6])));
      const chunks: number[][] = [];
      for await (const chunk of executor.queryStream('SELECT 1;', undefined, { format: 'ArrowStream' })) {
        chunks.push(Array.from(chunk));
      }
      expect(chunks.flat()).toEqual([1, 2, 3, 4, 5, 6]);
      expect(server.last.body.toString()).toBe('SELECT 1\nFORMAT ArrowStream');
      const bytes = await executor.queryBytes('SELECT 1', undefined, { format: 'Parquet' });
      expect(Array.from(bytes)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await executor.close();
    }
  });

  it('ends a stream with an error, never a short success, when the server drops the connection mid-result', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    const executor = new HttpExecutor({ url: server.url() });
    try {
      server.respondWith((_request, response) => {
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        response.write(Buffer.alloc(1024, 7));
        setTimeout(() => response.destroy(), 20);
      });
      let received = 0;
      const error = await failure(async () => {
        for await (const chunk of executor.queryStream('SELECT big', undefined, { format: 'RowBinary' })) {
          received += chunk.byteLength;
        }
      });
      expect(received).toBe(1024);
      expect(isTesseraError(error) && error.code).toMatch(/UNAVAILABLE|INTERNAL/);
    } finally {
      await executor.close();
    }
  });

  it('maps a ClickHouse exception to an error naming it: UNKNOWN_TABLE is INVALID_ARGUMENT', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    const executor = new HttpExecutor({ url: server.url() });
    try {
      server.respondWith(clickHouseException(60, 'UNKNOWN_TABLE', "Table tessera.nope doesn't exist"));
      const error = await failure(() => executor.queryJson('SELECT * FROM tessera.nope'));
      expect(isTesseraError(error) && error.code).toBe('INVALID_ARGUMENT');
      expect(String(error)).toContain('UNKNOWN_TABLE');
      expect(String(error)).toContain('tessera.nope');

      server.respondWith(clickHouseException(241, 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (total) exceeded'));
      const memory = await failure(() => executor.command('INSERT INTO t SELECT * FROM big'));
      expect(isTesseraError(memory) && memory.code).toBe('RESOURCE_EXHAUSTED');
      expect(String(memory)).toContain('MEMORY_LIMIT_EXCEEDED');

      server.respondWith(clickHouseException(1001, 'STD_EXCEPTION', 'std::bad_alloc'));
      const internal = await failure(() =>
        executor.insertRaw('tessera.t', Buffer.from('1\n'), { format: 'TabSeparated' }),
      );
      expect(isTesseraError(internal) && internal.code).toBe('INTERNAL');
      expect(String(internal)).toContain('STD_EXCEPTION');
      expect(String(internal)).toContain('insert into tessera.t');
    } finally {
      await executor.close();
    }
  });

  it('maps a refused connection to UNAVAILABLE, naming the server but not the password', async () => {
    const server = await FakeClickHouseHttpServer.start();
    const url = server.url();
    await server[Symbol.asyncDispose]();
    const executor = new HttpExecutor({ url });
    try {
      const error = await failure(() => executor.command('SELECT 1'));
      expect(isTesseraError(error) && error.code).toBe('UNAVAILABLE');
      expect(String(error)).toContain(new URL(url).host);
      expect(String(error)).not.toContain('s3cret');
      const streamError = await failure(async () => {
        for await (const _chunk of executor.queryStream('SELECT 1', undefined, { format: 'RowBinary' })) break;
      });
      expect(isTesseraError(streamError) && streamError.code).toBe('UNAVAILABLE');
    } finally {
      await executor.close();
    }
  });

  it('cancels a query through its signal with DEADLINE_EXCEEDED', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    const executor = new HttpExecutor({ url: server.url() });
    try {
      server.respondWith(() => undefined); // never answers
      const error = await failure(() =>
        executor.command('SELECT sleep(3)', undefined, { signal: AbortSignal.timeout(50) }),
      );
      expect(isTesseraError(error) && error.code).toBe('DEADLINE_EXCEEDED');
    } finally {
      await executor.close();
    }
  });

  it('runs the offline store over HTTP: creates its database and inserts one TabSeparated payload per batch', async () => {
    await using server = await FakeClickHouseHttpServer.start();
    server.respondWith(okChunks());
    const store = await ClickHouseOfflineStore.open({
      executor: new HttpExecutor({ url: server.url() }),
      database: 'feature_db',
    });
    try {
      expect(server.last.body.toString()).toBe('CREATE DATABASE IF NOT EXISTS `feature_db`');
      const view = registeredView('clicks', [{ name: 'user_id', type: 'int64' }], [feature('n', 'int64')]);
      const batch = {
        joinKeyValues: [[1n], [2n]],
        eventTsMillis: Float64Array.from([1_700_000_000_000, 1_700_000_000_001]),
        featureValues: [[5n, null]],
      };
      await store.insert(view, batch, { dedupToken: 'job-1', createdTsMicros: 1_700_000_000_000_000n });
      const request = server.last;
      expect(request.url.searchParams.get('query')).toMatch(
        /^INSERT INTO feature_db\.fv_clicks__v1 .*FORMAT TabSeparated/,
      );
      expect(request.url.searchParams.get('insert_deduplication_token')).toBe('job-1');
      const expected = encodeOfflineBatch(view, batch, 1_700_000_000_000_000n).payload;
      expect(request.body.toString()).toBe(expected.toString());
      expect(request.body.toString()).toBe(
        '1\t2023-11-14 22:13:20.000\t2023-11-14 22:13:20.000000\t5\n2\t2023-11-14 22:13:20.001\t2023-11-14 22:13:20.000000\t\\N\n',
      );
    } finally {
      await store.close();
    }
  });
});
