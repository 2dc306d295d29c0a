import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { tesseraCacheDir } from '@tessera/testkit';

export default defineConfig({
  // CI runs on a fresh clone: its results cache (each file's last duration) lives outside the checkout,
  // so the longest files start first and the two workers end together (by file size alone, the last
  // long file ran alone for a minute). Local runs keep vitest's own cache in node_modules.
  ...(process.env.CI ? { cacheDir: join(tesseraCacheDir(), 'vitest') } : {}),
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/infra/global-setup.ts'],
    // Each test file in its own process: engines such as chDB allow one data directory per process.
    pool: 'forks',
    // Two files at a time: most of a file's time is waiting on its servers and Redis, so a second
    // file in flight nearly halves `npm test` on two cores (one at a time it took 11 minutes).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
