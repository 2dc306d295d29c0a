/**
 * `tessera get`: the latest feature values of entities.
 */
import type { Command } from 'commander';
import { TesseraError, type JoinKeyValue } from '@tessera/core/basics';
import { fromProtoValueType } from '@tessera/client';
import { cellText, displayRefs, table, toJsonRows } from '../format.js';
import { collect, type ClientFactory } from '../command-options.js';

/** Registers `get` on the program. */
export function registerGetCommand(program: Command, client: ClientFactory): void {
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
}
