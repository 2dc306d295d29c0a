import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@tessera/core';
import { silentLogger } from '@tessera/core';
import type { TesseraMetrics } from './metrics.js';

/** Where the `/metrics` endpoint listens. */
export interface MetricsEndpointOptions {
  /** Address to bind. Default 127.0.0.1: metrics show view names and traffic, keep them off the network unless meant. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (Prometheus text format) on a port of its own, apart from the gRPC port. */
export async function startMetricsServer(
  metrics: TesseraMetrics,
  options: MetricsEndpointOptions,
  logger: Logger = silentLogger,
): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape GET /metrics\n');
      return;
    }
    metrics.scrape().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: unknown) => {
        logger.error({ err: error }, 'metrics: scrape failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed; see the server log\n');
      },
    );
  });
  // A scraper holds its connection open between scrapes: it must not keep a closing process alive.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
