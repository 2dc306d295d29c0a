import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { startTracingFromEnv } from '../src/tracing-from-env.js';

describe('startTracingFromEnv', () => {
  it('leaves tracing off (no-op API) when TESSERA_TRACING_OTLP_ENDPOINT is unset', async () => {
    const tracing = await startTracingFromEnv('tessera-server', {});
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    await tracing.shutdown();
  });

  it('starts the SDK with the ratio and service name the environment gives', async () => {
    const received: string[] = [];
    const collector = createServer((req, res) => {
      received.push(req.url ?? '');
      req.resume().on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const tracing = await startTracingFromEnv('tessera-server', {
        TESSERA_TRACING_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        TESSERA_TRACING_SAMPLE_RATIO: '1',
        TESSERA_TRACING_SERVICE_NAME: 'cli-test',
      });
      const span = trace.getTracer('t').startSpan('s');
      expect(span.isRecording()).toBe(true);
      span.end();
      await tracing.shutdown();
      expect(received).toEqual(['/v1/traces']);
    } finally {
      collector.close();
    }
  });

  it.each(['lots', '', '1.5', '-0.1'])(
    'refuses TESSERA_TRACING_SAMPLE_RATIO=%j with INVALID_ARGUMENT naming the variable',
    async (ratio) => {
      await expect(
        startTracingFromEnv('tessera-server', {
          TESSERA_TRACING_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
          TESSERA_TRACING_SAMPLE_RATIO: ratio,
        }),
      ).rejects.toThrow(/^TESSERA_TRACING_SAMPLE_RATIO .* must be a number from 0 to 1$/);
      await expect(
        startTracingFromEnv('tessera-server', {
          TESSERA_TRACING_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
          TESSERA_TRACING_SAMPLE_RATIO: ratio,
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    },
  );
});
