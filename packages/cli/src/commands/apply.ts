/**
 * `tessera apply`: validates a feature repository and applies it to the registry.
 */
import type { Command } from 'commander';
import { changeKindName } from '@tessera/client';
import { table } from '../format.js';
import type { ClientFactory } from '../command-options.js';

/** Registers `apply` on the program. */
export function registerApplyCommand(program: Command, client: ClientFactory): void {
  program
    .command('apply')
    .description('validate a feature repository (folder of YAML files) and apply it to the registry')
    .argument('<repo>', 'feature repository folder')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--prune', 'delete registered objects missing from the repository')
    .action(async (repo: string, opts: { dryRun?: boolean; prune?: boolean }) => {
      const { loadRepository } = await import('../repo-files.js');
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
}
