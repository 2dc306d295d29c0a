import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import {
  TIMESTAMP_FORMATS_HINT,
  TesseraError,
  formatProblems,
  formatTtl,
  isTesseraError,
  parseTimestamp,
} from '@tessera/core';
import type { JoinKeyValue } from '@tessera/core';
import { TesseraClient, changeKindName, fromProtoValueType } from '@tessera/client';
import type { BackendOptions } from '@tessera/feature-server';
import { buildTrainingSet, collectParam, viewEntitiesOption } from './historical.js';
import { Progress } from './progress.js';
import { listenForStop } from './stop-signal.js';
import { cellText, displayRefs, keyValueLines, table, toJsonRows } from './format.js';
import { DEFAULT_TIMESTAMP_COLUMN } from './read-rows.js';
import { writeFile } from './write-file.js';
import { loadRepository } from './repo-files.js';
import { addConnectionOptions, checkNoSecretInArgv, clientOptions, type ConnectionFlags } from './connection.js';
import { registerKeysCommand } from './commands/keys.js';
import { startTracingFromEnv } from './tracing-from-env.js';

/**
 * The feature server's default port (its DEFAULT_PORT). Not imported: the server and the writer
 * (chDB, LMDB, BullMQ) load only for `serve` and `writer`, so client commands start in a fraction
 * of the time.
 */
const DEFAULT_PORT = 6566;
const DEFAULT_SERVER = `127.0.0.1:${DEFAULT_PORT}`;

/** Runs the `tessera` command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('tessera')
    .description('Tessera feature store: define, apply, write and serve ML features')
    .addOption(
      new Option('--server <host:port>', 'feature server to talk to').env('TESSERA_SERVER').default(DEFAULT_SERVER),
    )
    .option('--timeout <ms>', 'deadline of each call in milliseconds', '30000')
    .showHelpAfterError();
  addConnectionOptions(program);

  const client = (): TesseraClient => {
    const opts = program.opts<{ server: string; timeout: string } & ConnectionFlags>();
    return new TesseraClient(clientOptions(opts.server, Number(opts.timeout), opts));
  };

  const serveCommand = program
    .command('serve')
    .description('run a feature server (embedded LMDB store under ./.tessera by default)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', String(DEFAULT_PORT))
    .option('--data-dir <dir>', 'embedded data directory', '.tessera')
    .option('--redis-cluster <nodes>', 'Redis Cluster seed nodes host:port,... (cluster mode)')
    .option('--key-prefix <prefix>', 'prefix of every Redis key (cluster mode)', '')
    .addOption(
      new Option(
        '--clickhouse-url <url>',
        'ClickHouse HTTP endpoint of the offline store (default: embedded chDB under --data-dir; none in cluster mode); with a password, set TESSERA_CLICKHOUSE_URL instead',
      ).env('TESSERA_CLICKHOUSE_URL'),
    )
    .option('--apply <repo>', 'apply this feature repository once the server is up')
    .option('--load <dir>', 'then write every <view>.csv / <view>.jsonl file of this folder to its view')
    .option('--max-batch-rows <n>', 'most entities per read and rows per write message', '10000')
    .option('--max-message-bytes <n>', 'largest gRPC message in bytes', String(64 * 1024 * 1024))
    .addOption(new Option('--auth', 'require an API key on every call (tessera keys create)').env('TESSERA_AUTH'))
    .addOption(new Option('--tls-cert <file>', 'TLS certificate chain (PEM)').env('TESSERA_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'TLS private key (PEM)').env('TESSERA_TLS_KEY'))
    .addOption(
      new Option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)').env(
        'TESSERA_TLS_CLIENT_CA',
      ),
    )
    .option('--insecure', 'allow a non-loopback --host without --auth and TLS (logs a warning on every start)')
    .option(
      '--shutdown-grace-ms <ms>',
      'on SIGTERM, how long calls in flight may take to finish before they are cancelled',
      '10000',
    )
    .action(
      async (opts: {
        auth?: boolean;
        tlsCert?: string;
        tlsKey?: string;
        tlsClientCa?: string;
        insecure?: boolean;
        host: string;
        port: string;
        dataDir: string;
        redisCluster?: string;
        keyPrefix: string;
        clickhouseUrl?: string;
        apply?: string;
        load?: string;
        maxBatchRows: string;
        maxMessageBytes: string;
        shutdownGraceMs: string;
      }) => {
        const stop = listenForStop();
        const shutdownGraceMillis = Number(opts.shutdownGraceMs);
        const clickhouse = opts.clickhouseUrl === undefined ? {} : { clickhouseUrl: opts.clickhouseUrl };
        const backend: BackendOptions = opts.redisCluster
          ? { kind: 'redis-cluster', nodes: parseNodes(opts.redisCluster), keyPrefix: opts.keyPrefix, ...clickhouse }
          : { kind: 'embedded', dataDir: opts.dataDir, ...clickhouse };
        checkNoSecretInArgv(serveCommand, 'clickhouseUrl', '--clickhouse-url', 'TESSERA_CLICKHOUSE_URL');
        if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
          throw new TesseraError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
        }
        if (opts.tlsClientCa !== undefined && opts.tlsCert === undefined) {
          throw new TesseraError('INVALID_ARGUMENT', '--tls-client-ca needs --tls-cert and --tls-key');
        }
        if (opts.load !== undefined && (opts.auth === true || opts.tlsCert !== undefined)) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            '--load is for the plaintext demo server; with --auth or TLS, load data with `tessera write` and a write key',
          );
        }
        // Files the server creates (LMDB, chDB parts, key hashes) are readable by their owner only.
        process.umask(0o077);
        const tls =
          opts.tlsCert === undefined || opts.tlsKey === undefined
            ? undefined
            : {
                certFile: opts.tlsCert,
                keyFile: opts.tlsKey,
                ...(opts.tlsClientCa === undefined ? {} : { clientCaFile: opts.tlsClientCa }),
              };
        // TRACING (temporary, see tracing-from-env.ts): started before the server, stopped after it.
        const tracing = await startTracingFromEnv('tessera-server');
        const { startFeatureServer } = await import('@tessera/feature-server');
        const server = await startFeatureServer({
          host: opts.host,
          port: Number(opts.port),
          backend,
          maxBatchRows: Number(opts.maxBatchRows),
          maxMessageBytes: Number(opts.maxMessageBytes),
          auth: opts.auth === true,
          ...(tls === undefined ? {} : { tls }),
          insecure: opts.insecure === true,
          shutdownGraceMillis,
        });
        const mode =
          backend.kind === 'embedded' ? `embedded, data in ${backend.dataDir}` : `Redis Cluster ${opts.redisCluster}`;
        console.log(`tessera: serving on ${server.address} (${mode})`);
        if (opts.apply && !stop.requested()) {
          const defs = await loadRepository(opts.apply);
          // In-process: works whatever the server demands of network clients (keys, client certificates).
          const result = await server.apply(defs, { author: 'tessera serve --apply' });
          console.log(`tessera: applied ${opts.apply} (${summarizeChanges(result.changes.map((ch) => ch.kind))})`);
        }
        if (opts.load && !stop.requested()) {
          const hasOffline = backend.kind === 'embedded' || backend.clickhouseUrl !== undefined;
          const c = new TesseraClient({ address: server.address });
          try {
            // <view>.csv|jsonl: current values (online, and offline when there is an offline store);
            // history/<view>.csv|jsonl: past events, offline only (the history training sets use).
            const load = async (dir: string, target: 'both' | 'online' | 'offline') => {
              for (const name of (await readdir(dir)).sort()) {
                const match = /^(\w+)\.(csv|jsonl)$/.exec(name);
                if (!match) continue;
                const summary = await writeFile(c, match[1]!, join(dir, name), {
                  batchRows: 5000,
                  timestampColumn: DEFAULT_TIMESTAMP_COLUMN,
                  // Sync: once loaded, the rows are in training sets too (no write-behind lag).
                  durability: target === 'online' ? 'write-behind' : 'sync',
                  target,
                });
                console.log(`tessera: ${summary}`);
              }
            };
            await load(opts.load, hasOffline ? 'both' : 'online');
            const history = join(opts.load, 'history');
            if (hasOffline && existsSync(history)) await load(history, 'offline');
          } finally {
            c.close();
          }
        }
        await stop.received;
        console.log('tessera: shutting down');
        stop.bound(shutdownGraceMillis);
        await server.close();
        await tracing.shutdown();
      },
    );

  const writerCommand = program
    .command('writer')
    .description(
      'run a write-behind writer: insert the queued offline rows of a cluster-mode deployment into ClickHouse',
    )
    .requiredOption('--redis-cluster <nodes>', 'Redis Cluster seed nodes host:port,...')
    .option('--key-prefix <prefix>', 'prefix of every Redis key (as the servers)', '')
    .addOption(
      new Option(
        '--clickhouse-url <url>',
        'ClickHouse HTTP endpoint (default: embedded chDB under --data-dir); with a password, set TESSERA_CLICKHOUSE_URL instead',
      ).env('TESSERA_CLICKHOUSE_URL'),
    )
    .option('--data-dir <dir>', 'folder of the embedded chDB offline store', join('.tessera', 'writer'))
    .option('--concurrency <n>', 'jobs inserted at once', '4')
    .option('--lock-ms <ms>', 'how long a dead writer keeps its jobs before another writer takes them', '30000')
    .option(
      '--shutdown-grace-ms <ms>',
      'on SIGTERM, how long the jobs in hand may take to finish before they are left to another writer',
      '10000',
    )
    .action(
      async (opts: {
        redisCluster: string;
        keyPrefix: string;
        clickhouseUrl?: string;
        dataDir: string;
        concurrency: string;
        lockMs: string;
        shutdownGraceMs: string;
      }) => {
        checkNoSecretInArgv(writerCommand, 'clickhouseUrl', '--clickhouse-url', 'TESSERA_CLICKHOUSE_URL');
        process.umask(0o077);
        const stop = listenForStop();
        const shutdownGraceMillis = Number(opts.shutdownGraceMs);
        // TRACING (temporary, see tracing-from-env.ts): started before the writer, stopped after it.
        const tracing = await startTracingFromEnv('tessera-writer');
        const { startWriterProcess } = await import('@tessera/writer');
        const writer = await startWriterProcess({
          nodes: parseNodes(opts.redisCluster),
          keyPrefix: opts.keyPrefix,
          dataDir: opts.dataDir,
          concurrency: Number(opts.concurrency),
          lockMillis: Number(opts.lockMs),
          shutdownGraceMillis,
          ...(opts.clickhouseUrl === undefined ? {} : { clickhouseUrl: opts.clickhouseUrl }),
        });
        const target = opts.clickhouseUrl ?? `chDB in ${opts.dataDir}`;
        console.log(`tessera: writer consuming the write-behind queue of ${opts.redisCluster} into ${target}`);
        await stop.received;
        console.log('tessera: writer finishing the jobs in hand');
        stop.bound(shutdownGraceMillis);
        await writer.close();
        await tracing.shutdown();
      },
    );

  program
    .command('materialize')
    .description(
      'copy the latest offline values of feature views to the online store (never over fresher online values)',
    )
    .argument('<views...>', 'feature views, "name" or "name@version"')
    .option('--start <time>', 'events at or after this time (RFC 3339, a date or epoch ms)')
    .option('--end <time>', 'events before this time (default: now)')
    .option('--incremental', 'from where the previous run of each view ended, up to now')
    .action(async (views: string[], opts: { start?: string; end?: string; incremental?: boolean }) => {
      if (opts.incremental && (opts.start !== undefined || opts.end !== undefined)) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          '--incremental takes no --start or --end: it continues from the last run',
        );
      }
      if (!opts.incremental && opts.start === undefined) {
        throw new TesseraError('INVALID_ARGUMENT', 'give --start (and optionally --end), or --incremental');
      }
      const c = client();
      try {
        const progress = new Progress(undefined, 'entities read');
        const finals = await c.materialize(
          {
            featureViews: views,
            incremental: opts.incremental ?? false,
            ...(opts.start === undefined ? {} : { startMillis: timestampOption(opts.start, '--start') }),
            ...(opts.end === undefined ? {} : { endMillis: timestampOption(opts.end, '--end') }),
          },
          (p) => progress.set(Number(p.rowsRead)),
        );
        progress.done();
        for (const p of finals) {
          console.log(
            `materialized ${p.featureView}: ${p.rowsRead} entities read, ${p.rowsWritten} written online, ` +
              `${p.rowsRead - p.rowsWritten} kept (fresher online)`,
          );
        }
      } finally {
        c.close();
      }
    });

  program
    .command('queue')
    .description('show the write-behind queue: pending jobs, offline lag, dead letters')
    .action(async () => {
      const c = client();
      try {
        const stats = await c.writeBehindStats();
        const rows = [
          ['pending jobs', String(stats.pendingJobs)],
          ...(stats.pendingRows === undefined ? [] : [['pending rows', String(stats.pendingRows)]]),
          ['offline lag', `${stats.oldestPendingMillis} ms`],
          ['dead letters', String(stats.deadLetters)],
          ...(stats.insertMillis
            ? [
                [
                  'inserts',
                  `${stats.inserted} (p50 ${stats.insertMillis.p50.toFixed(1)} ms, p99 ${stats.insertMillis.p99.toFixed(1)} ms)`,
                ],
              ]
            : []),
        ];
        console.log(keyValueLines(rows));
      } finally {
        c.close();
      }
    });

  const dlq = program
    .command('dlq')
    .description('dead letters: write-behind jobs that exhausted their retries (ls, show, replay, drop)');
  dlq
    .command('ls')
    .description('list dead letters')
    .option('--limit <n>', 'most to list', '100')
    .action(async (opts: { limit: string }) => {
      const c = client();
      try {
        const letters = await c.listDeadLetters(Number(opts.limit));
        if (letters.length === 0) {
          console.log('no dead letters');
          return;
        }
        console.log(
          table(
            ['id', 'view', 'rows', 'attempts', 'failed at', 'error'],
            letters.map((l) => [
              l.id,
              `${l.featureView}@${l.version}`,
              String(l.rowCount),
              String(l.attempts),
              new Date(Number(l.failedAtMillis)).toISOString(),
              l.error.length > 80 ? `${l.error.slice(0, 77)}...` : l.error,
            ]),
          ),
        );
      } finally {
        c.close();
      }
    });
  dlq
    .command('show')
    .description('show one dead letter with its whole error')
    .argument('<id>', 'dead letter id (from tessera dlq ls)')
    .action(async (id: string) => {
      const c = client();
      try {
        const l = await c.getDeadLetter(id);
        console.log(
          [
            `id:          ${l.id}`,
            `view:        ${l.featureView}@${l.version}`,
            `rows:        ${l.rowCount}`,
            `attempts:    ${l.attempts}`,
            `enqueued at: ${new Date(Number(l.enqueuedAtMillis)).toISOString()}`,
            `failed at:   ${new Date(Number(l.failedAtMillis)).toISOString()}`,
            `error:       ${l.error}`,
          ].join('\n'),
        );
      } finally {
        c.close();
      }
    });
  for (const [name, description, act] of [
    [
      'replay',
      'run a dead letter again (its original deduplication token: rows already in ClickHouse are not added twice)',
      'replayed',
    ],
    ['drop', 'delete a dead letter for good', 'dropped'],
  ] as const) {
    dlq
      .command(name)
      .description(description)
      .argument('<id>', 'dead letter id (from tessera dlq ls)')
      .action(async (id: string) => {
        const c = client();
        try {
          await (name === 'replay' ? c.replayDeadLetter(id) : c.dropDeadLetter(id));
          console.log(`${act} ${id}`);
        } finally {
          c.close();
        }
      });
  }

  program
    .command('apply')
    .description('validate a feature repository (folder of YAML files) and apply it to the registry')
    .argument('<repo>', 'feature repository folder')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--prune', 'delete registered objects missing from the repository')
    .action(async (repo: string, opts: { dryRun?: boolean; prune?: boolean }) => {
      const defs = await loadRepository(repo);
      const c = client();
      try {
        const result = await c.apply(defs, {
          dryRun: opts.dryRun ?? false,
          prune: opts.prune ?? false,
          author: process.env['USER'] ?? '',
        });
        const rows = result.changes.map((ch) => [
          ch.objectType,
          ch.name,
          changeKindName(ch.kind),
          ch.toVersion
            ? ch.fromVersion && ch.fromVersion !== ch.toVersion
              ? `${ch.fromVersion} -> ${ch.toVersion}`
              : String(ch.toVersion)
            : '',
          ch.details.join('; '),
        ]);
        console.log(table(['object', 'name', 'change', 'version', 'details'], rows));
        console.log(
          result.dryRun ? '(dry run: nothing applied)' : `applied; registry version ${result.registryVersion}`,
        );
      } finally {
        c.close();
      }
    });

  program
    .command('write')
    .description('write rows from a CSV (header row), JSONL or Parquet file to a feature view')
    .argument('<view>', 'feature view, "name" or "name@version"')
    .argument('<file>', '.csv, .jsonl or .parquet file: join keys, event_ts, features')
    .addOption(
      new Option('--target <target>', 'where the rows go').choices(['both', 'online', 'offline']).default('both'),
    )
    .option('--timestamp-column <name>', "column holding each row's event time", DEFAULT_TIMESTAMP_COLUMN)
    .option('--batch-rows <n>', 'rows per streamed message', '5000')
    .option('--replicated', 'acknowledge only once a Redis replica has each write (WAIT 1)')
    .option('--sync', 'answer only once the rows are in the offline store (default: write-behind)')
    .action(
      async (
        viewRef: string,
        file: string,
        opts: {
          timestampColumn: string;
          batchRows: string;
          replicated?: boolean;
          sync?: boolean;
          target: 'both' | 'online' | 'offline';
        },
      ) => {
        if (opts.sync && opts.replicated) {
          throw new TesseraError(
            'INVALID_ARGUMENT',
            '--sync and --replicated cannot be combined: choose one durability',
          );
        }
        const c = client();
        try {
          const result = await writeFile(c, viewRef, file, {
            batchRows: Number(opts.batchRows),
            timestampColumn: opts.timestampColumn,
            durability: opts.sync ? 'sync' : opts.replicated ? 'replicated' : 'write-behind',
            target: opts.target,
          });
          console.log(result);
        } finally {
          c.close();
        }
      },
    );

  program
    .command('get')
    .description('read the latest feature values for entities')
    .argument('<refs>', 'comma-separated refs (view:feature, view:*, view@2:feature) or a feature service name')
    .requiredOption('--entity <key=v1,v2,...>', 'join key values (repeat for composite keys)', collect, [] as string[])
    .option('--json', 'print a JSON array, one object per entity')
    .option('--timestamps', "also print each value's event time")
    .action(async (refsArg: string, opts: { entity: string[]; json?: boolean; timestamps?: boolean }) => {
      const refs = refsArg
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const isService = refs.length === 1 && !refs[0]!.includes(':');
      const keys = new Map<string, JoinKeyValue[]>();
      for (const spec of opts.entity) {
        const eq = spec.indexOf('=');
        if (eq <= 0) throw new TesseraError('INVALID_ARGUMENT', `--entity ${spec}: expected key=value1,value2,...`);
        keys.set(spec.slice(0, eq), spec.slice(eq + 1).split(','));
      }
      const rows = Math.max(0, ...[...keys.values()].map((v) => v.length));
      const c = client();
      try {
        // int64 join keys travel (and print) as integers, string keys as strings.
        const keyTypes = new Map(
          (await c.list()).entities.flatMap((e) =>
            e.joinKeys.map((k) => [k.name, fromProtoValueType(k.type)] as const),
          ),
        );
        for (const [name, values] of keys) {
          if (keyTypes.get(name) !== 'int64') continue;
          keys.set(
            name,
            values.map((v) => {
              if (!/^-?\d+$/.test(String(v)))
                throw new TesseraError('INVALID_ARGUMENT', `--entity ${name}: "${String(v)}" is not an int64`);
              return BigInt(v);
            }),
          );
        }
        const result = await c.getOnlineFeatures({
          ...(isService ? { featureService: refs[0]! } : { features: refs }),
          entities: Object.fromEntries(keys),
          includeEventTimestamps: opts.timestamps ?? false,
        });
        const names = displayRefs(result.refs, refs);
        if (opts.json) {
          console.log(JSON.stringify(toJsonRows(keys, result, names, rows), null, 2));
          return;
        }
        const header = [...keys.keys(), ...names.flatMap((n) => (opts.timestamps ? [n, `${n} at`] : [n]))];
        const body: string[][] = [];
        for (let i = 0; i < rows; i++) {
          const cells = [...keys.values()].map((v) => String(v[i]));
          names.forEach((_, f) => {
            const status = result.statuses[f]![i]!;
            cells.push(status === 'PRESENT' ? cellText(result.values[f]![i] ?? null, result.types[f]!) : `(${status})`);
            if (opts.timestamps) {
              const at = result.eventTimestamps?.[f]![i] ?? 0;
              cells.push(at ? new Date(at).toISOString() : '');
            }
          });
          body.push(cells);
        }
        console.log(table(header, body));
      } finally {
        c.close();
      }
    });

  program
    .command('historical')
    .description('build a point-in-time correct training set for entity rows')
    .option('--entities <file>', 'entity rows: .csv or .parquet with join keys, event_ts and any label columns')
    .option(
      '--view-entities <view>',
      'instead of --entities: every entity of this view with events in [--start, --end)',
    )
    .option('--start <time>', 'with --view-entities: start of the range (RFC 3339, a date or epoch ms), inclusive')
    .option('--end <time>', 'with --view-entities: end of the range, exclusive')
    .option(
      '--hop <duration>',
      'with --view-entities: one row per entity every hop (90s, 15m, 1h, 1d); default each event',
    )
    .option('--entity-source <name>', 'instead of --entities: a registered entity source (tessera ls sources)')
    .option(
      '--param <key=value>',
      'with --entity-source: a parameter value (repeat per parameter), parsed by its declared type',
      collectParam,
      {},
    )
    .requiredOption(
      '--features <refs>',
      'comma-separated refs (view:feature, view:*, view@2:feature) or a feature service name',
    )
    .requiredOption('--out <file>', 'train.parquet, train.csv or train.arrow')
    .option('--timestamp-column <name>', 'column holding the moment each row asks about', DEFAULT_TIMESTAMP_COLUMN)
    .option('--chunk-rows <n>', 'rows per streamed chunk', '65536')
    .action(
      async (opts: {
        entities?: string;
        viewEntities?: string;
        start?: string;
        end?: string;
        hop?: string;
        entitySource?: string;
        param: Record<string, string>;
        features: string;
        out: string;
        timestampColumn: string;
        chunkRows: string;
      }) => {
        const refs = opts.features
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const isService = refs.length === 1 && !refs[0]!.includes(':');
        const c = client();
        try {
          const summary = await buildTrainingSet(c, {
            ...(opts.entities === undefined ? {} : { entities: opts.entities }),
            ...(opts.viewEntities === undefined
              ? {}
              : { viewEntities: viewEntitiesOption(opts.viewEntities, opts.start, opts.end, opts.hop) }),
            ...(opts.entitySource === undefined
              ? {}
              : { entitySource: { name: opts.entitySource, params: opts.param } }),
            features: isService ? [] : refs,
            ...(isService ? { featureService: refs[0]! } : {}),
            out: opts.out,
            timestampColumn: opts.timestampColumn,
            chunkRows: Number(opts.chunkRows),
          });
          console.log(summary);
        } finally {
          c.close();
        }
      },
    );

  program
    .command('ls')
    .description('list feature views and their features (or entities, services, entity sources)')
    .argument('[what]', 'views | features | entities | services | sources', 'views')
    .action(async (what: string) => {
      const c = client();
      try {
        const list = await c.list();
        switch (what) {
          case 'views':
            console.log(
              table(
                ['view', 'version', 'entities', 'features', 'ttl', 'owner'],
                list.featureViews.map((v) => [
                  v.name,
                  String(v.version),
                  v.entities.join(','),
                  String(v.features.length),
                  v.ttlSeconds ? formatTtl(Number(v.ttlSeconds)) : 'none',
                  v.owner,
                ]),
              ),
            );
            break;
          case 'features':
            console.log(
              table(
                ['ref', 'type', 'description'],
                list.featureViews.flatMap((v) =>
                  v.features.map((f) => [
                    `${v.name}:${f.name}`,
                    (fromProtoValueType(f.type) ?? '?') + (f.dimension ? `[${f.dimension}]` : ''),
                    f.description,
                  ]),
                ),
              ),
            );
            break;
          case 'entities':
            console.log(
              table(
                ['entity', 'join keys', 'description'],
                list.entities.map((e) => [
                  e.name,
                  e.joinKeys.map((k) => `${k.name}:${fromProtoValueType(k.type) ?? '?'}`).join(','),
                  e.description,
                ]),
              ),
            );
            break;
          case 'services':
            console.log(
              table(
                ['service', 'features', 'description'],
                list.featureServices.map((s) => [s.name, s.features.join(','), s.description]),
              ),
            );
            break;
          case 'sources':
            console.log(
              table(
                ['source', 'params', 'owner', 'description'],
                list.entitySources.map((s) => [
                  s.name,
                  s.params.map((p) => `${p.name}:${p.type}`).join(','),
                  s.owner,
                  s.description,
                ]),
              ),
            );
            break;
          default:
            throw new TesseraError(
              'INVALID_ARGUMENT',
              `ls ${what}: expected views, features, entities, services or sources`,
            );
        }
      } finally {
        c.close();
      }
    });

  registerKeysCommand(program, client, parseNodes);

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (isTesseraError(error)) {
      console.error(`tessera: ${error.code}: ${error.message}`);
      if (error.details.length > 1 && !error.message.includes('\n')) console.error(formatProblems(error.details));
    } else {
      console.error(`tessera: ${(error as Error).message}`);
    }
    return 1;
  }
}

/** A time given on the command line, or INVALID_ARGUMENT naming the option and the accepted forms. */
function timestampOption(text: string, option: string): number {
  const millis = parseTimestamp(/^-?\d+$/.test(text) ? Number(text) : text);
  if (millis === undefined)
    throw new TesseraError('INVALID_ARGUMENT', `${option} "${text}" is not a time: use ${TIMESTAMP_FORMATS_HINT}`);
  return millis;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseNodes(spec: string): { host: string; port: number }[] {
  return spec.split(',').map((s) => {
    const [host, port] = s.trim().split(':');
    if (!host || !port || !/^\d+$/.test(port))
      throw new TesseraError('INVALID_ARGUMENT', `--redis-cluster: "${s}" is not host:port`);
    return { host, port: Number(port) };
  });
}

function summarizeChanges(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no changes';
}
