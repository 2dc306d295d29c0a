import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { RegistryLog } from '@tessera/core';
import { ChdbExecutor, ClickHouseRegistryLog } from '@tessera/offline';
import { describeRegistryLog } from '../../packages/registry/test/registry-log-suite.js';

/** The registry log on ClickHouse (chDB here), through the suite every registry log passes. */
const dir = mkdtempSync(join(tmpdir(), 'tessera-ch-registry-'));
const executor = ChdbExecutor.open({ path: dir });
const databases = new WeakMap<RegistryLog, string>();
let count = 0;

async function openIn(database: string): Promise<RegistryLog> {
  await executor.command(`CREATE DATABASE IF NOT EXISTS ${database}`);
  const log = await ClickHouseRegistryLog.open({ executor, database });
  databases.set(log, database);
  return log;
}

describeRegistryLog('ClickHouseRegistryLog', {
  fresh: () => openIn(`registry_${count++}`),
  sameAs: (log) => openIn(databases.get(log) ?? ''),
});

afterAll(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});
