import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, TraceFlags, context, propagation, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, tracesUrl, type Tracing } from '../src/index.js';

let running: Tracing | undefined;
// Every test exports somewhere real, so a shutdown never waits on a refused connection.
let collector: Awaited<ReturnType<typeof otlpListener>>;
let endpoint = '';
beforeAll(async () => {
  collector = await otlpListener();
  endpoint = collector.url;
});
afterAll(() => collector.close());
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

/** A real HTTP listener standing for the collector: records each OTLP request it receives. */
async function otlpListener(): Promise<{
  url: string;
  requests: { path: string; type: string; bytes: number }[];
  close(): void;
}> {
  const requests: { path: string; type: string; bytes: number }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', type: String(req.headers['content-type']), bytes });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => server.close() };
}

describe('startTracing', () => {
  it('exports ended spans as OTLP protobuf to <endpoint>/v1/traces by shutdown', async () => {
    running = startTracing({ serviceName: 'tracing-test', otlpEndpoint: endpoint, sampleRatio: 1 });
    trace.getTracer('test').startSpan('one').end();
    await running.shutdown();
    expect(collector.requests).toHaveLength(1);
    expect(collector.requests[0]).toMatchObject({ path: '/v1/traces', type: 'application/x-protobuf' });
    expect(collector.requests[0]?.bytes).toBeGreaterThan(0);
  });

  it('samples new traces by ratio but follows a sampled W3C parent (parent-based)', () => {
    running = startTracing({ serviceName: 'tracing-test', otlpEndpoint: endpoint, sampleRatio: 0 });
    const tracer = trace.getTracer('test');
    const root = tracer.startSpan('root');
    expect(root.isRecording()).toBe(false);
    root.end();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = propagation.extract(ROOT_CONTEXT, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    const child = tracer.startSpan('child', { kind: SpanKind.SERVER }, parent);
    expect(child.isRecording()).toBe(true);
    expect(child.spanContext().traceId).toBe(traceId);
    expect(child.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(TraceFlags.SAMPLED);
    child.end();
  });

  it('goes back to the no-op API after shutdown, so a process can start it again', async () => {
    running = startTracing({ serviceName: 'tracing-test', otlpEndpoint: endpoint, sampleRatio: 1 });
    await running.shutdown();
    running = undefined;
    const span = trace.getTracer('test').startSpan('after');
    expect(span.isRecording()).toBe(false);
    expect(context.active()).toBe(ROOT_CONTEXT);
    running = startTracing({ serviceName: 'tracing-test', otlpEndpoint: endpoint, sampleRatio: 1 });
    expect(trace.getTracer('test').startSpan('again').isRecording()).toBe(true);
  });

  it('refuses a second start in the same process with FAILED_PRECONDITION', () => {
    running = startTracing({ serviceName: 'tracing-test', otlpEndpoint: endpoint, sampleRatio: 1 });
    expect(() => startTracing({ serviceName: 'other', otlpEndpoint: endpoint, sampleRatio: 1 })).toThrow(
      expect.objectContaining({ code: 'FAILED_PRECONDITION' }),
    );
    // The first registration stays in force.
    expect(trace.getTracer('test').startSpan('still').isRecording()).toBe(true);
  });

  it.each([
    [{ sampleRatio: 1.5 }, /tracing\.sampleRatio "1\.5" must be a number from 0 to 1/],
    [{ sampleRatio: Number.NaN }, /tracing\.sampleRatio "NaN"/],
    [{ otlpEndpoint: 'collector:4318' }, /tracing\.otlpEndpoint "collector:4318" must be http:\/\/ or https:\/\//],
    [{ otlpEndpoint: 'not a url' }, /tracing\.otlpEndpoint "not a url" is not a URL/],
    [{ serviceName: ' ' }, /tracing\.serviceName must not be empty/],
  ])('refuses %o with INVALID_ARGUMENT naming the setting', (bad, message) => {
    const options = { serviceName: 'tracing-test', otlpEndpoint: 'http://127.0.0.1:4318', sampleRatio: 1, ...bad };
    expect(() => startTracing(options)).toThrow(message);
    expect(() => startTracing(options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // Nothing was registered.
    expect(trace.getTracer('test').startSpan('none').isRecording()).toBe(false);
  });
});

describe('tracesUrl', () => {
  it('adds /v1/traces to a base URL and keeps an explicit path', () => {
    expect(tracesUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(tracesUrl('https://otel.example:443/')).toBe('https://otel.example/v1/traces');
    expect(tracesUrl('http://collector:4318/custom/traces')).toBe('http://collector:4318/custom/traces');
  });
});
