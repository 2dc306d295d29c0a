/**
 * `tessera ls`: lists views, features, entities, services or entity sources.
 */
import type { Command } from 'commander';
import { TesseraError, describeAggregationShape, formatTtl } from '@tessera/core/basics';
import { fromProtoRegisteredAggregation } from '@tessera/wire';
import { fromProtoValueType } from '@tessera/client';
import { table } from '../format.js';
import type { ClientFactory } from '../command-options.js';

/** Registers `ls` on the program. */
export function registerLsCommand(program: Command, client: ClientFactory): void {
  program
    .command('ls')
    .description('list feature views and their features (or entities, services, entity sources)')
    .argument('[what]', 'views | features | entities | services | sources', 'views')
    .action(async (what: string) => {
      const c = client();
      try {
        const list = await c.list();
        switch (what) {
          case 'views': {
            // SQL views show their lineage (the view versions their SELECT reads) in one more column.
            const lineage = list.featureViews.some((v) => v.sqlSource !== undefined);
            console.log(
              table(
                ['view', 'version', 'entities', 'features', 'ttl', 'owner', ...(lineage ? ['reads'] : [])],
                list.featureViews.map((v) => [
                  v.name,
                  String(v.version),
                  v.entities.join(','),
                  String(v.features.length + v.onDemand.length),
                  v.ttlSeconds ? formatTtl(Number(v.ttlSeconds)) : 'none',
                  v.owner,
                  ...(lineage ? [(v.sqlSource?.reads ?? []).join(',')] : []),
                ]),
              ),
            );
            break;
          }
          case 'features':
            console.log(
              table(
                ['ref', 'type', 'description'],
                list.featureViews.flatMap((v) => [
                  ...v.features.map((f) => [
                    `${v.name}:${f.name}`,
                    (fromProtoValueType(f.type) ?? '?') + (f.dimension ? `[${f.dimension}]` : ''),
                    f.description,
                  ]),
                  // On-demand features: the bracket holds the expression.
                  ...v.onDemand.map((f) => [
                    `${v.name}:${f.name}`,
                    fromProtoValueType(f.type) ?? '?',
                    `[= ${f.expression}]${f.description === '' ? '' : ` ${f.description}`}`,
                  ]),
                  // Window aggregations are features too; the bracket says how each is computed.
                  ...v.aggregations.map((wire) => {
                    const a = fromProtoRegisteredAggregation(wire);
                    return [
                      `${v.name}:${a.name}`,
                      a.type,
                      `[${describeAggregationShape(a)}]${a.description === '' ? '' : ` ${a.description}`}`,
                    ];
                  }),
                ]),
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
}
