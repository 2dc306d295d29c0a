import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCli, type CliProcess } from '@tessera/testkit';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The address the READMEs' examples use: `npm start`'s server. */
export const EXAMPLE_SHOP_ADDRESS = '127.0.0.1:6566';

/** A server started like `npm start`, ready once every sample file is loaded. */
export interface ExampleShop {
  readonly process: CliProcess;
  readonly address: string;
}

/**
 * `npm start`'s server: the example shop's sample data generated into `dataDir` (default `dir/data`),
 * served on a free port from a fresh store in `dir/store`, ready once `--load` has loaded the last
 * file (the offline history included). The caller stops `process`; a server that never gets ready is
 * stopped here.
 */
export async function startExampleShop(dir: string, dataDir = join(dir, 'data')): Promise<ExampleShop> {
  await promisify(execFile)('node', [join(REPO_ROOT, 'examples/generate.mjs'), dataDir], {
    cwd: REPO_ROOT,
    timeout: 60_000,
  });
  const process = startCli([
    'serve',
    '--port',
    '0',
    '--data-dir',
    join(dir, 'store'),
    '--apply',
    'examples/feature_repo',
    '--load',
    dataDir,
  ]);
  try {
    const [, address = ''] = await process.waitFor(/serving on (\S+)/);
    await process.waitFor(/tessera: loaded /);
    return { process, address };
  } catch (error) {
    await process.stop('SIGKILL');
    throw error;
  }
}
