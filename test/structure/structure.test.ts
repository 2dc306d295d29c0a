import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findViolations, importsOf, loadWorkspace, type StructurePolicy, type WorkspacePackage } from './rules.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The rules of this workspace (ARCHITECTURE.md, "Dependencies point one way"). */
const POLICY: StructurePolicy = {
  centre: '@tessera/core',
  // The `tessera` command starts the server and the writer in its own process.
  compositionRoots: new Set(['@tessera/cli']),
  adapters: new Set([
    '@tessera/online',
    '@tessera/offline',
    '@tessera/offline-remote',
    '@tessera/registry',
    '@tessera/writebehind',
  ]),
  allowedEdges: new Map(),
  maxLines: 400,
  longFiles: new Map([
    [
      'packages/testkit/src/redis-cluster.ts',
      'test infrastructure: one cluster lifecycle (start, meet, wait, stop), moved whole',
    ],
    [
      'packages/writebehind/src/lmdb-write-behind.ts',
      'the outbox, its drainer and its dead letters share one transaction discipline',
    ],
  ]),
};

describe('workspace structure', () => {
  it('keeps every dependency rule: entry points only, no package on a service, adapters apart, no cycles, small files', () => {
    const workspace = loadWorkspace(ROOT);
    // This folder's own tests spell violations out as examples.
    const outside = workspace.outside.filter((file) => !file.path.startsWith('test/structure/'));
    expect(findViolations({ ...workspace, outside }, POLICY)).toEqual([]);
  });
});

describe('structure rules', () => {
  const pkg = (name: string, dir: string, extra: Partial<WorkspacePackage> = {}): WorkspacePackage => ({
    name,
    dir,
    dependencies: ['@tessera/core'],
    devDependencies: [],
    files: [],
    ...extra,
  });
  const core = pkg('@tessera/core', 'packages/core', { dependencies: [] });
  const policy: StructurePolicy = { ...POLICY, allowedEdges: new Map(), longFiles: new Map(), maxLines: 3 };
  const check = (...packages: WorkspacePackage[]): string[] => findViolations({ packages, outside: [] }, policy);

  it('reads static, type-only, re-exported and dynamic imports, multi-line ones included', () => {
    const text = [
      "import { a } from '@tessera/core';",
      "import type {\n  B,\n  C,\n} from './b.js';",
      "export { d } from '../d.js';",
      "const e = await import('@tessera/feature-server');",
      "import 'side-effect';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['@tessera/core', './b.js', '../d.js', '@tessera/feature-server', 'side-effect']);
  });

  it("refuses an import of another package's src/ and a deep import, naming the file", () => {
    const online = pkg('@tessera/online', 'packages/online', {
      files: [
        { path: 'packages/online/src/a.ts', text: "import { x } from '../../core/src/keys.js';\n" },
        { path: 'packages/online/src/b.ts', text: "import { y } from '@tessera/core/dist/keys.js';\n" },
        { path: 'packages/online/src/c.ts', text: "import { z } from './internal/z.js';\n" },
      ],
    });
    expect(check(core, online)).toEqual([
      "packages/online/src/a.ts imports ../../core/src/keys.js: another package's src/ (import its entry point)",
      'packages/online/src/b.ts imports @tessera/core/dist/keys.js: use the entry point @tessera/core',
    ]);
  });

  it('accepts a subpath the package exports as an entry point of its own, and no other', () => {
    const coreWithBasics = { ...core, subpaths: ['basics'] };
    const client = pkg('@tessera/client', 'packages/client', {
      files: [
        { path: 'packages/client/src/a.ts', text: "import { TesseraError } from '@tessera/core/basics';\n" },
        { path: 'packages/client/src/b.ts', text: "import { x } from '@tessera/core/basics/errors.js';\n" },
      ],
    });
    expect(check(coreWithBasics, client)).toEqual([
      'packages/client/src/b.ts imports @tessera/core/basics/errors.js: use the entry point @tessera/core',
    ]);
  });

  it('refuses an import of a package the importer does not declare (tests may use devDependencies)', () => {
    const offline = pkg('@tessera/offline', 'packages/offline');
    const online = pkg('@tessera/online', 'packages/online', {
      devDependencies: ['@tessera/offline'],
      files: [
        { path: 'packages/online/src/a.ts', text: "import { o } from '@tessera/offline';\n" },
        { path: 'packages/online/test/a.test.ts', text: "import { o } from '@tessera/offline';\n" },
      ],
    });
    expect(check(core, offline, online)).toEqual([
      'packages/online/src/a.ts imports @tessera/offline, which @tessera/online does not declare in its dependencies',
    ]);
  });

  it('refuses a package on a service, a service on a service and an adapter on an adapter', () => {
    const online = pkg('@tessera/online', 'packages/online');
    const registry = pkg('@tessera/registry', 'packages/registry', {
      dependencies: ['@tessera/core', '@tessera/online'],
    });
    const server = pkg('@tessera/feature-server', 'services/feature-server');
    const writer = pkg('@tessera/writer', 'services/writer', { dependencies: ['@tessera/feature-server'] });
    const client = pkg('@tessera/client', 'packages/client', { dependencies: ['@tessera/feature-server'] });
    const cli = pkg('@tessera/cli', 'packages/cli', { dependencies: ['@tessera/feature-server', '@tessera/writer'] });
    expect(check(core, online, registry, server, writer, client, cli)).toEqual([
      "@tessera/registry depends on @tessera/online: adapters depend on core's ports, never on each other",
      '@tessera/writer depends on @tessera/feature-server: a service never depends on another service',
      '@tessera/client depends on @tessera/feature-server: a package never depends on a service',
    ]);
  });

  it('refuses a dependency of the centre and a cycle between packages', () => {
    const wire = pkg('@tessera/wire', 'packages/wire', { dependencies: ['@tessera/core'] });
    const centre = pkg('@tessera/core', 'packages/core', { dependencies: ['@tessera/wire'] });
    expect(check(centre, wire)).toEqual([
      '@tessera/core is the centre and depends on no workspace package, not @tessera/wire',
      'dependency cycle: @tessera/core -> @tessera/wire -> @tessera/core',
    ]);
  });

  it('reports an exception that no longer applies, so the rules only get stricter', () => {
    const online = pkg('@tessera/online', 'packages/online', {
      files: [{ path: 'packages/online/src/short.ts', text: 'a\n' }],
    });
    const stale: StructurePolicy = {
      ...policy,
      allowedEdges: new Map([['@tessera/online -> @tessera/offline', 'once needed']]),
      longFiles: new Map([
        ['packages/online/src/short.ts', 'once long'],
        ['packages/online/src/gone.ts', 'once long'],
      ]),
    };
    expect(findViolations({ packages: [core, online], outside: [] }, stale)).toEqual([
      'allowed edge @tessera/online -> @tessera/offline is no longer a dependency: remove the exception',
      'long-file exception packages/online/src/short.ts is 1 lines now: remove it',
      'long-file exception packages/online/src/gone.ts is gone: remove it',
    ]);
  });

  it('refuses a source file over the line limit, but not a generated one or a test', () => {
    const long = 'a\nb\nc\nd\n';
    const proto = pkg('@tessera/proto', 'packages/proto', {
      dependencies: [],
      files: [
        { path: 'packages/proto/src/long.ts', text: long },
        { path: 'packages/proto/src/gen.ts', text: `// Code generated by a tool. DO NOT EDIT.\n${long}` },
        { path: 'packages/proto/test/long.test.ts', text: long },
        { path: 'packages/proto/src/short.ts', text: 'a\nb\nc\n' },
      ],
    });
    expect(check(core, proto)).toEqual(['packages/proto/src/long.ts has 4 lines (over 3): split it by idea']);
  });
});
