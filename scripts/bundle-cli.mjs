#!/usr/bin/env node
// Bundles the `tessera` command's client side with esbuild after `tsc -b` (npm run build and
// scripts/ensure.mjs run it): packages/cli/dist/index.js and what it reaches — commander, the client,
// the wire codec, the generated messages, gRPC — become a few files in packages/cli/dist/bundle/, so
// `tessera get` reads and compiles ~10 files instead of ~150 (bench/cli-startup.ts measures it).
// Everything the services, stores, training sets and files need stays outside the bundle, loaded
// from node_modules by the commands that use them, so native engines, WebAssembly and files read
// beside their modules work as they do unbundled. bin/tessera.js runs the bundle when it is at least
// as new as the compiled modules, and those modules otherwise.
//
//   node scripts/bundle-cli.mjs
//
// The output is build output (dist/ is ignored), never committed.
import { build } from 'esbuild';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI_DIST = join(root, 'packages', 'cli', 'dist');
const OUT_DIR = join(CLI_DIST, 'bundle');

/**
 * The packages bundled: what every client command loads at start. Any other package import stays a
 * runtime import. Bundled code that a server-side package also uses (core, proto, wire, gRPC) exists
 * twice in `tessera serve`: only data crosses between the two (definitions, options, errors, which
 * `isTesseraError` recognises across copies), never classes checked with instanceof.
 */
const BUNDLED = new Set([
  'commander',
  '@grpc/grpc-js',
  '@js-sdsl/ordered-map',
  '@bufbuild/protobuf',
  '@tessera/client',
  '@tessera/wire',
  '@tessera/proto',
  '@tessera/core',
]);

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const keepOutside = {
  name: 'keep-outside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      // @tessera/core whole (YAML, CEL) is only for commands that read repositories: outside, like yaml.
      if (args.path === '@tessera/core') return { path: args.path, external: true };
      return BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true };
    });
  },
};

const result = await build({
  // Paths in the metafile are from the repository root, wherever this runs from.
  absWorkingDir: root,
  entryPoints: { index: join(CLI_DIST, 'index.js') },
  outdir: OUT_DIR,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Bundled CommonJS (grpc-js, commander) calls require for Node's modules.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module';\nconst require = __bundleRequire(import.meta.url);",
  },
  plugins: [keepOutside],
  metafile: true,
  logLevel: 'warning',
  legalComments: 'linked',
});
// Which modules went into which output file: packages/cli/test/startup.test.ts reads it.
writeFileSync(join(OUT_DIR, 'meta.json'), JSON.stringify(result.metafile));
// Chunks are named by content: drop those of earlier builds (after writing the new ones, so a command
// started meanwhile finds either bundle whole).
const current = new Set(Object.keys(result.metafile.outputs).map((out) => join(root, out)));
for (const name of readdirSync(OUT_DIR)) {
  const path = join(OUT_DIR, name);
  if (name !== 'meta.json' && !current.has(path)) rmSync(path);
}
