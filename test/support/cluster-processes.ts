import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TesseraClient } from '@tessera/client';
import { REPO_ROOT, startServeProcess, startWriterCli, type CliProcess } from '@tessera/testkit';

const CLI = join(REPO_ROOT, 'packages', 'cli', 'bin', 'tessera.js');

/**
 * One deployment as its processes see it: a Redis Cluster (online store, queue, registry, API keys)
 * under a key prefix, and a `tessera offline-server` that owns the one chDB store every server and
 * writer uses, with the admin key they present to it.
 */
export interface ClusterDeployment {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly keyPrefix: string;
  /** `host:port` of the offline server. */
  readonly offlineServer: string;
  /** Admin-scope API key of the deployment, passed as TESSERA_OFFLINE_API_KEY (never in argv). */
  readonly offlineApiKey: string;
}

/** A `tessera serve` process of a deployment, with a client to it. */
export interface ServeProcess {
  readonly process: CliProcess;
  readonly client: TesseraClient;
  /** `127.0.0.1:<port>`, as the server printed it. */
  readonly address: string;
}

export function nodeList(nodes: ClusterDeployment['nodes']): string {
  return nodes.map((n) => `${n.host}:${n.port}`).join(',');
}

/** `tessera keys create <name> --scopes <scopes> --redis-cluster …`: the token, as an operator gets it (no server). */
export async function createClusterKeyCli(
  nodes: ClusterDeployment['nodes'],
  keyPrefix: string,
  name: string,
  scopes: string,
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    'node',
    [CLI, 'keys', 'create', name, '--scopes', scopes, '--redis-cluster', nodeList(nodes), '--key-prefix', keyPrefix],
    { cwd: REPO_ROOT, timeout: 60_000 },
  );
  return stdout.trim();
}

function offlineArgs(deployment: ClusterDeployment): string[] {
  return ['--offline-server', deployment.offlineServer];
}

function offlineEnv(deployment: ClusterDeployment): NodeJS.ProcessEnv {
  return { TESSERA_OFFLINE_API_KEY: deployment.offlineApiKey };
}

/** `tessera serve --port 0` on the deployment, once serving. */
export async function startServeOnCluster(deployment: ClusterDeployment): Promise<ServeProcess> {
  const { process, client: shortDeadlineClient } = await startServeProcess(
    ['--redis-cluster', nodeList(deployment.nodes), '--key-prefix', deployment.keyPrefix, ...offlineArgs(deployment)],
    offlineEnv(deployment),
  );
  shortDeadlineClient.close();
  const [, address = ''] = await process.waitFor(/serving on (\S+)/);
  // Deadlines long enough for a machine shared with other work (the load loops are bounded anyway).
  return { process, client: new TesseraClient({ address, timeoutMillis: 20_000 }), address };
}

/** `tessera writer` on the deployment (inserting through the offline server), once it consumes. */
export function startWriterOnCluster(
  deployment: ClusterDeployment,
  dataDir: string,
  extra: readonly string[] = [],
): Promise<CliProcess> {
  return startWriterCli(
    deployment.nodes,
    deployment.keyPrefix,
    dataDir,
    [...offlineArgs(deployment), ...extra],
    offlineEnv(deployment),
  );
}
