import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { countOnlineReplicas, parseClusterNodes, parseInfo, slotOwners, SLOT_COUNT } from './cluster-nodes.js';
import type { ClusterNodeEntry } from './cluster-nodes.js';
import { findExecutable } from './executables.js';
import { findFreePorts, releasePorts } from './ports.js';
import { isProcessAlive, pollUntil, sleep } from './processes.js';
import { sendRedisCommand, sendRedisTextCommand } from './redis-command.js';
import type { RedisNodeAddress } from './redis-command.js';

export type { RedisNodeAddress } from './redis-command.js';

/** What to run when redis-server is missing (Debian's package ships redis-server and redis-cli). */
export const REDIS_INSTALL_COMMAND = 'apt-get install -y redis-server';

const HOST = '127.0.0.1';
const MASTER_COUNT = 3;
const NODE_COUNT = MASTER_COUNT * 2;
/** Redis Cluster's bus listens on the client port + 10000. */
const CLUSTER_BUS_PORT_OFFSET = 10_000;
/** Short enough that a failover test sees a replica promoted in a few seconds. */
const DEFAULT_NODE_TIMEOUT_MILLIS = 2_000;
const DEFAULT_HEALTHY_TIMEOUT_MILLIS = 30_000;
const NODE_START_TIMEOUT_MILLIS = 10_000;
const NODE_STOP_TIMEOUT_MILLIS = 10_000;
const CLUSTER_CREATE_TIMEOUT_MILLIS = 60_000;
/** A port can be taken by another process between the free-port check and redis-server's bind. */
const LAUNCH_ATTEMPTS = 5;
const POLL_INTERVAL_MILLIS = 100;
const LOG_TAIL_LINES = 15;

const execFileAsync = promisify(execFile);

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** `cluster-node-timeout`: how long a node may be unreachable before it is failed over. Default 2000. */
  readonly nodeTimeoutMillis?: number;
  /**
   * Parent directory of the cluster's own temporary directory (configs, logs, `nodes.conf`), which
   * `stop()` removes. Default: the OS temporary directory.
   */
  readonly dir?: string;
}

/** Options of {@link RedisClusterHandle.waitForHealthy}. */
export interface WaitForHealthyOptions {
  /** Default 30000. */
  readonly timeoutMillis?: number;
  /** Also wait until every master has a replica whose link is up. Default false. */
  readonly requireReplicas?: boolean;
}

/** A Redis Cluster of local redis-server processes, owned by the test that started it. */
export interface RedisClusterHandle extends AsyncDisposable {
  /** Every node started, masters and replicas, in a fixed order; stopped nodes stay listed. */
  readonly nodes: readonly RedisNodeAddress[];
  /** The cluster's own directory. */
  readonly dir: string;
  /** Masters serving slots as a running node sees them, by first slot; nodes stopped here are left out. */
  masters(): Promise<RedisNodeAddress[]>;
  /** Running, non-failing replicas of the master on `port`. */
  replicasOf(port: number): Promise<RedisNodeAddress[]>;
  /** Kills the node on `port` (SIGKILL, as a crash would) and waits until it is gone. */
  stopNode(port: number): Promise<void>;
  /** Restarts a stopped node with its config file and `nodes.conf`, so it rejoins with its old identity. */
  startNode(port: number): Promise<void>;
  /**
   * Waits until every running node reports `cluster_state:ok`, all running nodes agree that every slot
   * is served by a live master, and no running node is flagged failing.
   */
  waitForHealthy(options?: WaitForHealthyOptions): Promise<void>;
  /** Kills every node and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Throws with the install command when redis-server or redis-cli is not on PATH. */
export function assertRedisInstalled(): void {
  const missing = ['redis-server', 'redis-cli'].filter((name) => findExecutable(name) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found on PATH; the tests run a real Redis Cluster. Install it with: ${REDIS_INSTALL_COMMAND}`,
    );
  }
}

/**
 * Starts a 6-node Redis Cluster (3 masters, 3 replicas) on free loopback ports and resolves once every
 * node reports `cluster_state:ok` and every master has a synced replica.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  assertRedisInstalled();
  const parent = options.dir ?? tmpdir();
  await mkdir(parent, { recursive: true });
  const dir = await realpath(await mkdtemp(join(parent, 'tessera-redis-cluster-')));
  const cluster = new LocalRedisCluster(dir, options.nodeTimeoutMillis ?? DEFAULT_NODE_TIMEOUT_MILLIS);
  try {
    await cluster.create();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

interface LocalNode {
  port: number;
  readonly dir: string;
  pid: number | undefined;
  running: boolean;
}

/** Clusters of this process that are not stopped yet, killed on exit so a crashed run leaks no servers. */
const liveClusters = new Set<LocalRedisCluster>();
let exitHookInstalled = false;

function trackCluster(cluster: LocalRedisCluster): void {
  liveClusters.add(cluster);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const live of liveClusters) live.killSync();
    liveClusters.clear();
  };
  process.on('exit', killAll);
  // A signal ends a process without 'exit' (vitest stops its workers with SIGTERM on Ctrl-C): kill the
  // servers, then let the signal do what it would have done had we not listened.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

class LocalRedisCluster implements RedisClusterHandle {
  readonly #nodes: LocalNode[];
  #stopped = false;

  constructor(
    readonly dir: string,
    private readonly nodeTimeoutMillis: number,
  ) {
    this.#nodes = Array.from({ length: NODE_COUNT }, (_, index) => ({
      port: 0,
      dir: join(dir, `node-${index}`),
      pid: undefined,
      running: false,
    }));
    trackCluster(this);
  }

  get nodes(): RedisNodeAddress[] {
    return this.#nodes.map((node) => ({ host: HOST, port: node.port }));
  }

  async create(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => this.#launchOnFreePort(node)));
    const addresses = this.#nodes.map((node) => `${HOST}:${node.port}`);
    try {
      await execFileAsync(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
        { timeout: CLUSTER_CREATE_TIMEOUT_MILLIS },
      );
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed in ${this.dir}:\n${stdout}${stderr}`, { cause: error });
    }
    await this.waitForHealthy({ requireReplicas: true });
  }

  async masters(): Promise<RedisNodeAddress[]> {
    const entries = await this.#readAnyView();
    return entries
      .filter((entry) => entry.role === 'master' && entry.slotRanges.length > 0 && this.#isLive(entry))
      .sort((a, b) => (a.slotRanges[0]?.[0] ?? 0) - (b.slotRanges[0]?.[0] ?? 0))
      .map((entry) => ({ host: HOST, port: entry.port }));
  }

  async replicasOf(port: number): Promise<RedisNodeAddress[]> {
    const entries = await this.#readAnyView();
    const master = entries.find((entry) => entry.port === port && entry.role === 'master');
    if (!master) throw new Error(`No master on port ${port} in cluster ${this.dir}`);
    return entries
      .filter((entry) => entry.role === 'replica' && entry.masterId === master.id && this.#isLive(entry))
      .map((entry) => ({ host: HOST, port: entry.port }));
  }

  async stopNode(port: number): Promise<void> {
    const node = this.#node(port);
    if (!node.running) throw new Error(`Node ${port} of cluster ${this.dir} is already stopped`);
    await this.#kill(node);
  }

  async startNode(port: number): Promise<void> {
    const node = this.#node(port);
    if (node.running) throw new Error(`Node ${port} of cluster ${this.dir} is already running`);
    const started = await this.#launch(node);
    if (!started.ok) throw new Error(started.error);
  }

  async waitForHealthy(options: WaitForHealthyOptions = {}): Promise<void> {
    const timeoutMillis = options.timeoutMillis ?? DEFAULT_HEALTHY_TIMEOUT_MILLIS;
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const problem = await this.#findHealthProblem(options.requireReplicas ?? false);
      if (problem === undefined) return;
      if (Date.now() >= deadline) {
        throw new Error(`Redis cluster ${this.dir} not healthy after ${timeoutMillis} ms: ${problem}`);
      }
      await sleep(POLL_INTERVAL_MILLIS);
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.#nodes.filter((node) => node.pid !== undefined).map((node) => this.#kill(node)));
    await rm(this.dir, { recursive: true, force: true });
    releasePorts(
      this.#nodes.map((node) => node.port),
      [0, CLUSTER_BUS_PORT_OFFSET],
    );
    liveClusters.delete(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Last resort from the process `exit` hook, where nothing asynchronous runs any more. */
  killSync(): void {
    for (const node of this.#nodes) {
      if (node.pid === undefined) continue;
      try {
        process.kill(node.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  #node(port: number): LocalNode {
    const node = this.#nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`No node on port ${port} in cluster ${this.dir}`);
    return node;
  }

  #isLive(entry: ClusterNodeEntry): boolean {
    return !entry.failing && this.#nodes.some((node) => node.port === entry.port && node.running);
  }

  async #launchOnFreePort(node: LocalNode): Promise<void> {
    let lastError = '';
    for (let attempt = 0; attempt < LAUNCH_ATTEMPTS; attempt++) {
      if (node.port !== 0) releasePorts([node.port], [0, CLUSTER_BUS_PORT_OFFSET]);
      const [port] = await findFreePorts(1, { offsets: [0, CLUSTER_BUS_PORT_OFFSET] });
      if (port === undefined) throw new Error('findFreePorts returned no port');
      node.port = port;
      const started = await this.#launch(node);
      if (started.ok) return;
      lastError = started.error;
    }
    throw new Error(`Could not start a Redis node after ${LAUNCH_ATTEMPTS} attempts; last: ${lastError}`);
  }

  /** Starts redis-server for `node` and waits until this very server (not another on the port) answers. */
  async #launch(node: LocalNode): Promise<{ ok: true } | { ok: false; error: string }> {
    await mkdir(node.dir, { recursive: true });
    const configPath = join(node.dir, 'redis.conf');
    const pidPath = join(node.dir, 'redis.pid');
    const logPath = join(node.dir, 'redis.log');
    await writeFile(configPath, this.#config(node));
    await rm(pidPath, { force: true });
    await rm(logPath, { force: true });
    node.pid = undefined;
    try {
      await execFileAsync('redis-server', [configPath], { timeout: NODE_START_TIMEOUT_MILLIS });
    } catch (error) {
      return { ok: false, error: `redis-server ${configPath} failed: ${String(error)}` };
    }
    const address = { host: HOST, port: node.port };
    const deadline = Date.now() + NODE_START_TIMEOUT_MILLIS;
    while (Date.now() < deadline) {
      node.pid ??= await readPid(pidPath);
      if (node.pid !== undefined && !(await isProcessAlive(node.pid))) break;
      // A bind failure ends the daemon before it writes its pid file; only the log tells.
      if (node.pid === undefined && (await hasAborted(logPath))) break;
      try {
        const reply = await sendRedisCommand(address, ['CONFIG', 'GET', 'dir']);
        if (Array.isArray(reply) && reply[1] === node.dir && node.pid !== undefined) {
          node.running = true;
          return { ok: true };
        }
      } catch {
        // not listening yet
      }
      await sleep(POLL_INTERVAL_MILLIS);
    }
    if (node.pid !== undefined) await this.#kill(node);
    return { ok: false, error: `redis-server on port ${node.port} did not come up; ${await readLogTail(logPath)}` };
  }

  #config(node: LocalNode): string {
    const quote = (text: string): string => JSON.stringify(text);
    return [
      `port ${node.port}`,
      `bind ${HOST}`,
      'daemonize yes',
      `dir ${quote(node.dir)}`,
      `pidfile ${quote(join(node.dir, 'redis.pid'))}`,
      `logfile ${quote(join(node.dir, 'redis.log'))}`,
      'cluster-enabled yes',
      'cluster-config-file nodes.conf',
      `cluster-node-timeout ${this.nodeTimeoutMillis}`,
      // A replica may always take over, however long it was cut off: tests kill masters at will.
      'cluster-replica-validity-factor 0',
      // Replicas sync at once instead of after the default 5 s wait for more replicas to join a transfer.
      'repl-diskless-sync-delay 0',
      'save ""',
      'appendonly no',
      '',
    ].join('\n');
  }

  async #kill(node: LocalNode): Promise<void> {
    const pid = node.pid;
    node.running = false;
    node.pid = undefined;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    if (!(await pollUntil(async () => !(await isProcessAlive(pid)), NODE_STOP_TIMEOUT_MILLIS))) {
      throw new Error(
        `redis-server ${pid} on port ${node.port} still alive ${NODE_STOP_TIMEOUT_MILLIS} ms after SIGKILL`,
      );
    }
  }

  async #readAnyView(): Promise<ClusterNodeEntry[]> {
    const errors: string[] = [];
    for (const node of this.#nodes.filter((candidate) => candidate.running)) {
      try {
        return parseClusterNodes(await sendRedisTextCommand({ host: HOST, port: node.port }, ['CLUSTER', 'NODES']));
      } catch (error) {
        errors.push(`${node.port}: ${String(error)}`);
      }
    }
    throw new Error(`No running node of cluster ${this.dir} answered CLUSTER NODES (${errors.join('; ')})`);
  }

  /** The first reason the cluster is not healthy, or undefined when it is. */
  async #findHealthProblem(requireReplicas: boolean): Promise<string | undefined> {
    const running = this.#nodes.filter((node) => node.running);
    if (running.length === 0) return 'no node is running';
    const runningPorts = new Set(running.map((node) => node.port));
    try {
      const views = await Promise.all(
        running.map(async (node) => {
          const address = { host: HOST, port: node.port };
          const info = parseInfo(await sendRedisTextCommand(address, ['CLUSTER', 'INFO']));
          const entries = parseClusterNodes(await sendRedisTextCommand(address, ['CLUSTER', 'NODES']));
          return { port: node.port, state: info.get('cluster_state'), entries };
        }),
      );
      let reference: { port: number; owners: Int32Array; topology: string } | undefined;
      for (const view of views) {
        if (view.state !== 'ok') return `${view.port} reports cluster_state:${view.state ?? '?'}`;
        const flagged = view.entries.find((entry) => entry.failing && runningPorts.has(entry.port));
        if (flagged) return `${view.port} flags running node ${flagged.port} as failing`;
        // Gossip spreads role changes node by node: wait until every node tells the same story, so that
        // masters() and replicasOf() do not depend on which node answers.
        const topology = describeTopology(view.entries, runningPorts);
        if (reference && reference.topology !== topology) {
          return `${view.port} sees roles ${topology}, ${reference.port} sees ${reference.topology}`;
        }
        const owners = slotOwners(view.entries.filter((entry) => !entry.failing));
        for (let slot = 0; slot < SLOT_COUNT; slot++) {
          const owner = owners[slot] ?? -1;
          if (!runningPorts.has(owner)) {
            return `${view.port} sees slot ${slot} served by ${owner < 0 ? 'no live master' : `stopped node ${owner}`}`;
          }
          if (reference && reference.owners[slot] !== owner) {
            return `${view.port} and ${reference.port} disagree on the master of slot ${slot}`;
          }
        }
        reference ??= { port: view.port, owners, topology };
      }
      if (requireReplicas && reference) {
        for (const master of new Set(reference.owners)) {
          const replication = parseInfo(
            await sendRedisTextCommand({ host: HOST, port: master }, ['INFO', 'replication']),
          );
          if (countOnlineReplicas(replication) < 1) return `master ${master} has no replica online`;
        }
      }
      return undefined;
    } catch (error) {
      return String(error);
    }
  }
}

/** Roles of the running nodes in one view, as `port:master` / `port>masterPort`, sorted by port. */
function describeTopology(entries: readonly ClusterNodeEntry[], runningPorts: ReadonlySet<number>): string {
  const portById = new Map(entries.map((entry) => [entry.id, entry.port]));
  return entries
    .filter((entry) => runningPorts.has(entry.port))
    .sort((a, b) => a.port - b.port)
    .map((entry) =>
      entry.role === 'master' ? `${entry.port}:master` : `${entry.port}>${portById.get(entry.masterId ?? '') ?? '?'}`,
    )
    .join(' ');
}

async function readPid(pidPath: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(pidPath, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function hasAborted(logPath: string): Promise<boolean> {
  try {
    return /aborting|Fatal error/i.test(await readFile(logPath, 'utf8'));
  } catch {
    return false;
  }
}

async function readLogTail(logPath: string): Promise<string> {
  try {
    const lines = (await readFile(logPath, 'utf8')).trimEnd().split('\n');
    return `last lines of ${logPath}:\n${lines.slice(-LOG_TAIL_LINES).join('\n')}`;
  } catch {
    return `no log at ${logPath}`;
  }
}
