/**
 * The CEL engine of on-demand features (@marcbachmann/cel-js, design §5.2) as installed: the pinned
 * version, MIT, and no code generation anywhere in its dist (no eval, no Function constructor), so
 * an expression is interpreted, never turned into JavaScript.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ENTRY = fileURLToPath(import.meta.resolve('@marcbachmann/cel-js'));
const ROOT = dirname(dirname(ENTRY));
const PINNED = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

function jsFiles(dir: string, depth = 0): string[] {
  expect(depth).toBeLessThan(8);
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : jsFiles(path, depth + 1);
    return /\.(c|m)?js$/.test(entry.name) ? [path] : [];
  });
}

describe('@marcbachmann/cel-js as installed', () => {
  it('is the exact pinned version, MIT licensed', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
    expect(PINNED.dependencies['@marcbachmann/cel-js']).toBe('8.0.0');
    expect(pkg.version).toBe('8.0.0');
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('has no eval and no Function constructor in any of its JavaScript', () => {
    const files = jsFiles(ROOT);
    expect(files.length).toBeGreaterThan(5);
    const found = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [/(?<![.\w$])eval\s*\(/, /\bnew\s+Function\b/, /(?<![.\w$])Function\s*\(/, /\bimport\s*\(\s*[^'"]/]
        .filter((pattern) => pattern.test(text))
        .map((pattern) => `${file}: ${String(pattern)}`);
    });
    expect(found).toEqual([]);
  });
});
