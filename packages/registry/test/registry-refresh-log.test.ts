import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger, type LogFields, type Logger } from '@tessera/core';
import { LmdbRegistryLog, Registry } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-registry-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('Registry background refresh', () => {
  it('logs a failed refresh at warn with its error and the sequence it keeps serving, and goes on', async () => {
    const lines: { fields: LogFields; message: string }[] = [];
    const logger: Logger = { ...silentLogger, warn: (fields, message) => void lines.push({ fields, message }) };
    const log = new LmdbRegistryLog({ directory: root });
    const registry = await Registry.open(log, { pollIntervalMillis: 10, logger });
    // The log fails underneath the registry (its database closed): every poll now fails.
    await log.close();
    const deadline = Date.now() + 10_000;
    while (lines.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatchObject({
      fields: { component: 'registry', sequence: 0 },
      message: 'registry: background refresh failed; serving the cached definitions',
    });
    expect(lines[0]?.fields['err']).toBeInstanceOf(Error);
    expect(registry.state().sequence).toBe(0);
    await registry.close().catch(() => undefined);
  });
});
