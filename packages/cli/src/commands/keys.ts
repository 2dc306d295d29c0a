/**
 * `tessera keys create|ls|rotate|revoke`: API keys, over gRPC with an admin key, or straight on the
 * deployment's key store (`--data-dir` or `--redis-cluster`) to create the first admin key.
 */
import type { Command } from 'commander';
import { TesseraError, parseScopes, type ApiKeyRecord, type ApiKeyStore } from '@tessera/core/basics';
import type { TesseraClient } from '@tessera/client';
import { fromProtoScope } from '@tessera/wire';
import type { ApiKeyStoreLocation } from '@tessera/registry';
import type { ApiKey } from '@tessera/proto';
import { table } from '../format.js';
import { KEY_STORE_FLAGS, loadCommandConfiguration, redisSettings } from '../deployment.js';

/** Deadline of a command on the key store when the program's `--timeout` is not at hand, ms. */
const DEFAULT_DEADLINE_MILLIS = 30_000;

interface StoreFlags {
  readonly dataDir?: string;
  readonly redisCluster?: string;
  readonly keyPrefix?: string;
  readonly config?: string;
}

/** One key as the CLI shows it (never a secret). */
interface KeyRow {
  readonly name: string;
  readonly id: string;
  readonly scopes: readonly string[];
  readonly createdAtMillis: number;
  readonly revokedAtMillis?: number;
}

function fromRecord(record: ApiKeyRecord): KeyRow {
  return record;
}

function fromProto(key: ApiKey): KeyRow {
  return {
    name: key.name,
    id: key.id,
    scopes: key.scopes.map(fromProtoScope),
    createdAtMillis: Number(key.createdAtMillis),
    ...(key.revokedAtMillis > 0n ? { revokedAtMillis: Number(key.revokedAtMillis) } : {}),
  };
}

/** Registers `keys` and its subcommands on the program. */
export function registerKeysCommand(program: Command, client: () => TesseraClient): void {
  const keys = program
    .command('keys')
    .description(
      'API keys: create, list, rotate, revoke (over --server with an admin key, or on the store with --data-dir / --redis-cluster / --config)',
    );
  const withStore = (command: Command): Command =>
    command
      .option('--data-dir <dir>', 'act on the key store of this embedded data directory (no server needed)')
      .option('--redis-cluster <nodes>', "act on the key store of this Redis Cluster's deployment (no server needed)")
      .option('--key-prefix <prefix>', 'key prefix of that deployment (cluster mode)', '')
      .option(
        '--config <file>',
        "act on the key store of the deployment this YAML configuration describes (the services' file; TESSERA_* variables apply)",
      );

  /**
   * Runs `work` on the key store when a store flag is given, else returns undefined. The store is
   * found as the services find it: flags over TESSERA_* variables over the `--config` file, so a
   * Redis password or TLS settings reach it the same way.
   */
  async function onStore<T>(
    command: Command,
    flags: StoreFlags,
    work: (store: ApiKeyStore) => Promise<T>,
  ): Promise<T | undefined> {
    if (flags.redisCluster === undefined && flags.dataDir === undefined && flags.config === undefined) return undefined;
    const { config } = await loadCommandConfiguration(command, KEY_STORE_FLAGS);
    const { backend } = config;
    const location: ApiKeyStoreLocation =
      backend.kind === 'redis-cluster'
        ? {
            kind: 'redis-cluster',
            nodes: backend.redis.nodes,
            keyPrefix: backend.redis.keyPrefix,
            redis: redisSettings(config),
          }
        : { kind: 'embedded', dataDir: backend.dataDir };
    const { openApiKeyStore } = await import('@tessera/registry');
    const store = openApiKeyStore(location);
    // A store that never answers (a wrong Redis password or TLS setting makes the cluster client
    // reconnect forever) fails the command at the call deadline instead of hanging it.
    const deadlineMillis = Number(command.optsWithGlobals<{ timeout?: string }>().timeout ?? DEFAULT_DEADLINE_MILLIS);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new TesseraError(
            'UNAVAILABLE',
            `the key store did not answer within ${deadlineMillis} ms: check the Redis nodes, the password ` +
              '(TESSERA_BACKEND_REDIS_PASSWORD) and the TLS settings',
          ),
        );
      }, deadlineMillis);
    });
    let answered = false;
    try {
      const result = await Promise.race([work(store), expired]);
      answered = true;
      return result;
    } finally {
      clearTimeout(timer);
      // After a timeout, closing may wait on the same reconnecting client: let it go unawaited.
      if (answered) await store.close();
      else void store.close().catch(() => undefined);
    }
  }

  const printCreated = (verb: string, row: KeyRow, token: string): void => {
    // The token alone on stdout (TESSERA_API_KEY=$(tessera keys create …)); the rest on stderr.
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `tessera: ${verb} API key "${row.name}" (id ${row.id}, scopes ${row.scopes.join(',')}). ` +
        'The token above is shown once: keep it in a secret store and pass it as TESSERA_API_KEY.\n',
    );
  };

  withStore(keys.command('create').argument('<name>', 'name of the key (letters, digits, . _ -)'))
    .requiredOption('--scopes <list>', 'read, write, admin (comma-separated; admin includes the others)')
    .description('create a key; prints its token once')
    .action(async (name: string, opts: StoreFlags & { scopes: string }, command: Command) => {
      const scopes = parseScopes(opts.scopes);
      const created =
        (await onStore(command, opts, async (store) => {
          const { createKey } = await import('@tessera/registry');
          const { token, record } = await createKey(store, name, scopes);
          return { token, row: fromRecord(record) };
        })) ??
        (await withClient(client, async (c) => {
          const response = await c.createApiKey(name, scopes);
          return { token: response.token, row: fromProto(response.key as ApiKey) };
        }));
      printCreated('created', created.row, created.token);
    });

  withStore(keys.command('ls'))
    .option('--all', 'include revoked keys')
    .description('list keys (names, ids, scopes; never secrets)')
    .action(async (opts: StoreFlags & { all?: boolean }, command: Command) => {
      const rows =
        (await onStore(command, opts, async (store) => (await store.list()).map(fromRecord))) ??
        (await withClient(client, async (c) => (await c.listApiKeys(opts.all === true)).keys.map(fromProto)));
      const shown = rows
        .filter((r) => opts.all === true || r.revokedAtMillis === undefined)
        .sort((a, b) => a.name.localeCompare(b.name) || a.createdAtMillis - b.createdAtMillis);
      console.log(
        table(
          ['name', 'id', 'scopes', 'created', 'revoked'],
          shown.map((r) => [
            r.name,
            r.id,
            r.scopes.join(','),
            new Date(r.createdAtMillis).toISOString(),
            r.revokedAtMillis === undefined ? '' : new Date(r.revokedAtMillis).toISOString(),
          ]),
        ),
      );
    });

  withStore(keys.command('rotate').argument('<name>', 'name of the key'))
    .description('issue a new token for a key (same scopes); the old token stops working')
    .action(async (name: string, opts: StoreFlags, command: Command) => {
      const rotated =
        (await onStore(command, opts, async (store) => {
          const { rotateKey } = await import('@tessera/registry');
          const { token, record } = await rotateKey(store, name);
          return { token, row: fromRecord(record) };
        })) ??
        (await withClient(client, async (c) => {
          const response = await c.rotateApiKey(name);
          return { token: response.token, row: fromProto(response.key as ApiKey) };
        }));
      printCreated('rotated', rotated.row, rotated.token);
    });

  withStore(keys.command('revoke').argument('<name>', 'name of the key'))
    .description('revoke a key; every server refuses it within seconds')
    .action(async (name: string, opts: StoreFlags, command: Command) => {
      const row =
        (await onStore(command, opts, async (store) => {
          const { revokeKey } = await import('@tessera/registry');
          return fromRecord(await revokeKey(store, name));
        })) ?? (await withClient(client, async (c) => fromProto(await c.revokeApiKey(name))));
      console.log(`tessera: revoked API key "${row.name}" (id ${row.id})`);
    });
}

async function withClient<T>(client: () => TesseraClient, work: (c: TesseraClient) => Promise<T>): Promise<T> {
  const c = client();
  try {
    return await work(c);
  } finally {
    c.close();
  }
}
