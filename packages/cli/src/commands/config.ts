/** `tessera config print`: the effective deployment configuration, secrets redacted. */
import type { Command } from 'commander';
import { SERVE_FLAGS, loadCommandConfiguration } from '../deployment.js';
import { addServeOptions } from './serve.js';

/** Registers `config` and its subcommands on the program. */
export function registerConfigCommand(program: Command): void {
  const config = program
    .command('config')
    .description('the deployment configuration: file (--config), TESSERA_* variables and flags, validated');
  const print = addServeOptions(
    config
      .command('print')
      .description('print the effective configuration of `tessera serve` with these flags (YAML, secrets redacted)'),
  ).action(async () => {
    const { config: effective } = await loadCommandConfiguration(print, SERVE_FLAGS);
    const { printConfiguration } = await import('@tessera/config');
    process.stdout.write(printConfiguration(effective));
  });
}
