import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { RegistryLog } from '@tessera/core';
import { LmdbRegistryLog } from '../src/index.js';
import { describeRegistryLog } from './registry-log-suite.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-registry-'));
const directories = new WeakMap<RegistryLog, string>();
let count = 0;

function openAt(directory: string): RegistryLog {
  const log = new LmdbRegistryLog({ directory });
  directories.set(log, directory);
  return log;
}

describeRegistryLog('LmdbRegistryLog', {
  fresh: () => Promise.resolve(openAt(join(root, `registry-${count++}`))),
  sameAs: (log) => Promise.resolve(openAt(directories.get(log) ?? '')),
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
