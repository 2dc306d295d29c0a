import { defineConfig } from 'vitest/config';

export default defineConfig({
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
