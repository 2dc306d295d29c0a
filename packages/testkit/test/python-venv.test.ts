import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePythonVenv, pythonVenvDir } from '../src/python-venv.js';

// Requirements with nothing to install: pip runs offline, so this checks the venv's life cycle
// (where it goes, reuse, one build under concurrency, a new venv for new pins).
const NOTHING = '# no packages\n';

describe('ensurePythonVenv', () => {
  let cache = '';
  let saved: string | undefined;

  beforeAll(() => {
    cache = mkdtempSync(join(tmpdir(), 'tessera-venv-'));
    saved = process.env['XDG_CACHE_HOME'];
    process.env['XDG_CACHE_HOME'] = cache;
  });

  afterAll(() => {
    if (saved === undefined) delete process.env['XDG_CACHE_HOME'];
    else process.env['XDG_CACHE_HOME'] = saved;
    rmSync(cache, { recursive: true, force: true });
  });

  it('builds one venv per requirements in the per-user cache, once, even when asked twice at once', async () => {
    const [first, second] = await Promise.all([
      ensurePythonVenv({ name: 'probe', requirements: NOTHING }),
      ensurePythonVenv({ name: 'probe', requirements: NOTHING }),
    ]);
    expect(first).toBe(second);
    expect(first).toBe(join(pythonVenvDir('probe', NOTHING), 'bin/python'));
    expect(first.startsWith(join(cache, 'tessera'))).toBe(true);
    expect(existsSync(first)).toBe(true);
    // No lock left behind, one venv.
    expect(readdirSync(join(cache, 'tessera'))).toEqual([
      `probe-venv-${pythonVenvDir('probe', NOTHING).split('-').at(-1)}`,
    ]);
  }, 120_000);

  it('gives changed pins a venv of their own', () => {
    // Only the place: building a second venv would double this file's run time for a path.
    expect(pythonVenvDir('probe', `${NOTHING}# another pin\n`)).not.toBe(pythonVenvDir('probe', NOTHING));
  });
});
