import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TesseraClient } from '@tessera/client';
import { startFeatureServer } from '@tessera/feature-server';
import type { BackendOptions, FeatureServer, FeatureServerOptions } from '@tessera/feature-server';

/** A feature server and a client to it, closed together (use with `await using`). */
export interface TestServer extends AsyncDisposable {
  readonly server: FeatureServer;
  readonly client: TesseraClient;
}

export type BackendKind = 'embedded' | 'redis-cluster';

/** Backend options for a fresh namespace: a new LMDB folder, or a new Redis key prefix. */
export function freshBackend(
  kind: BackendKind,
  nodes: readonly { host: string; port: number }[],
): { backend: BackendOptions; cleanup: () => void } {
  if (kind === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
    return { backend: { kind, dataDir }, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  return { backend: { kind, nodes, keyPrefix: `t${randomBytes(4).toString('hex')}:` }, cleanup: () => undefined };
}

/** Starts a server on a free loopback port with a client. */
export async function startTestServer(
  backend: BackendOptions,
  options: Partial<FeatureServerOptions> = {},
): Promise<TestServer> {
  const server = await startFeatureServer({ port: 0, ...options, backend });
  const client = new TesseraClient({ address: server.address, timeoutMillis: 20_000 });
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await server.close();
    },
  };
}
