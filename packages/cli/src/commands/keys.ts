/**
 * `tessera keys create|ls|rotate|revoke`: API keys, over gRPC with an admin key, or straight on the
 * deployment's key store (`--data-dir` or `--redis-cluster`) to create the first admin key.
 */
import type { Command } from 'commander';
import { parseScopes, type ApiKeyRecord, type ApiKeyStore } from '@tessera/core';
import type { TesseraClient } from '@tessera/client';
import { fromProtoScope } from '@tessera/wire';
import { createKey, openApiKeyStore, revokeKey, rotateKey, type ApiKeyStoreLocation } from '@tessera/registry';
import type { ApiKey } from '@tessera/proto';
import { table } from '../format.js';

interface StoreFlags {
  readonly dataDir?: string;
  readonly redisCluster?: string;
  readonly keyPrefix?: string;
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
export function registerKeysCommand(
  program: Command,
  client: () => TesseraClient,
  parseNodes: (spec: string) => { host: string; port: number }[],
): void {
  const keys = program
    .command('keys')
    .description(
      'API keys: create, list, rotate, revoke (over --server with an admin key, or on the store with --data-dir / --redis-cluster)',
    );
  const withStore = (command: Command): Command =>
    command
      .option('--data-dir <dir>', 'act on the key store of this embedded data directory (no server needed)')
      .option('--redis-cluster <nodes>', "act on the key store of this Redis Cluster's deployment (no server needed)")
      .option('--key-prefix <prefix>', 'key prefix of that deployment (cluster mode)', '');

  /** Runs `work` on the key store when a store flag is given, else returns undefined. */
  async function onStore<T>(flags: StoreFlags, work: (store: ApiKeyStore) => Promise<T>): Promise<T | undefined> {
    const backend: ApiKeyStoreLocation | undefined =
      flags.redisCluster !== undefined
        ? { kind: 'redis-cluster', nodes: parseNodes(flags.redisCluster), keyPrefix: flags.keyPrefix ?? '' }
        : flags.dataDir !== undefined
          ? { kind: 'embedded', dataDir: flags.dataDir }
          : undefined;
    if (backend === undefined) return undefined;
    const store = openApiKeyStore(backend);
    try {
      return await work(store);
    } finally {
      await store.close();
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
    .action(async (name: string, opts: StoreFlags & { scopes: string }) => {
      const scopes = parseScopes(opts.scopes);
      const created =
        (await onStore(opts, async (store) => {
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
    .action(async (opts: StoreFlags & { all?: boolean }) => {
      const rows =
        (await onStore(opts, async (store) => (await store.list()).map(fromRecord))) ??
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
    .action(async (name: string, opts: StoreFlags) => {
      const rotated =
        (await onStore(opts, async (store) => {
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
    .action(async (name: string, opts: StoreFlags) => {
      const row =
        (await onStore(opts, async (store) => fromRecord(await revokeKey(store, name)))) ??
        (await withClient(client, async (c) => fromProto(await c.revokeApiKey(name))));
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
