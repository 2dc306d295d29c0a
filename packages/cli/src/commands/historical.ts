/**
 * `tessera historical`: builds a point-in-time correct training set.
 */
import type { Command } from 'commander';
import { DEFAULT_TIMESTAMP_COLUMN, collectParam, type ClientFactory } from '../command-options.js';

/** Registers `historical` on the program. */
export function registerHistoricalCommand(program: Command, client: ClientFactory): void {
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
        // Arrow and Parquet load for this command only.
        const { buildTrainingSet, viewEntitiesOption } = await import('../historical.js');
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
}
