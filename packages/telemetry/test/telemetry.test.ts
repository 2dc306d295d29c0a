import { Writable } from 'node:stream';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startMetricsServer, TesseraMetrics } from '../src/index.js';

/** A destination collecting the JSON lines a logger writes. */
function collectLines(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('logger', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
  });
  afterAll(() => {
    context.disable();
  });

  it('writes JSON lines carrying the trace_id and span_id of the active span', () => {
    const out = collectLines();
    const logger = createLogger({ destination: out.stream, bindings: { service: 'test' } });
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    });
    context.with(trace.setSpan(context.active(), span), () => {
      logger.child({ component: 'outbox' }).warn({ view: 'driver_stats', attempt: 2 }, 'insert failed');
    });
    logger.info({}, 'outside any span');
    const [inSpan, outside] = out.lines();
    expect(inSpan).toMatchObject({
      level: 'warn',
      service: 'test',
      component: 'outbox',
      view: 'driver_stats',
      attempt: 2,
      msg: 'insert failed',
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
    });
    expect(outside).toMatchObject({ level: 'info', msg: 'outside any span' });
    expect(outside).not.toHaveProperty('trace_id');
  });

  it('keeps the type and message of an error and drops lines below its level', () => {
    const out = collectLines();
    const logger = createLogger({ destination: out.stream, level: 'warn' });
    logger.info({}, 'not written');
    logger.error({ err: new RangeError('disk full') }, 'drain failed');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', err: { type: 'RangeError', message: 'disk full' } });
  });
});

describe('metrics endpoint', () => {
  it('serves the Prometheus text of every metric on GET /metrics, on loopback, and 404 elsewhere', async () => {
    const metrics = new TesseraMetrics();
    metrics.served.ok.inc(3);
    metrics.rpc.observe('/tessera.v1.FeatureStore/GetOnlineFeatures', 5, 0.002);
    metrics.recordInsert('driver_stats', 2, 40, 0.01);
    let pending = 7;
    metrics.watchQueue('outbox', () =>
      Promise.resolve({ pendingJobs: pending, pendingRows: 70, oldestPendingMillis: 1500, deadLetters: 1 }),
    );
    const server = await startMetricsServer(metrics, { port: 0 });
    try {
      const scrape = async (): Promise<string> => {
        const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toContain('text/plain');
        return response.text();
      };
      const text = await scrape();
      expect(text).toContain('tessera_online_values_served_total{status="ok"} 3');
      expect(text).toContain(
        'tessera_rpc_server_duration_seconds_count{service="tessera.v1.FeatureStore",method="GetOnlineFeatures",code="NOT_FOUND"} 1',
      );
      expect(text).toContain('tessera_offline_inserted_rows_total{view="driver_stats",version="2"} 40');
      expect(text).toContain('tessera_writebehind_pending_jobs{queue="outbox"} 7');
      expect(text).toContain('tessera_writebehind_oldest_pending_age_seconds{queue="outbox"} 1.5');
      expect(text).toContain('process_cpu_user_seconds_total');
      pending = 0;
      expect(await scrape()).toContain('tessera_writebehind_pending_jobs{queue="outbox"} 0');
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('shows a growing freshness age for a view with no new events', async () => {
    let now = 1_000_000;
    const metrics = new TesseraMetrics({ processMetrics: false, nowMillis: () => now });
    metrics.freshness.view('driver_stats', 1).written(now - 2_000);
    const age = async (): Promise<number> => {
      const line = (await metrics.scrape())
        .split('\n')
        .find((l) =>
          l.startsWith('tessera_view_freshness_age_seconds{view="driver_stats",version="1",source="written"}'),
        );
      return Number(line?.split(' ')[1]);
    };
    expect(await age()).toBe(2);
    now += 3_000;
    expect(await age()).toBe(5);
  });

  it('logs and skips queue stats that fail instead of failing the scrape', async () => {
    const out = collectLines();
    const metrics = new TesseraMetrics({ processMetrics: false, logger: createLogger({ destination: out.stream }) });
    metrics.watchQueue('bullmq', () => Promise.reject(new Error('cluster down')));
    const text = await metrics.scrape();
    expect(text).toContain('# TYPE tessera_writebehind_pending_jobs gauge');
    expect(text).not.toContain('tessera_writebehind_pending_jobs{queue="bullmq"}');
    expect(out.lines()[0]).toMatchObject({ level: 'warn', queue: 'bullmq', err: { message: 'cluster down' } });
  });
});
