#!/usr/bin/env node
// Runs the bundle of the client side (scripts/bundle-cli.mjs, made by `npm run build`) unless the
// compiler wrote anything since it was made — `tsc -b` touches dist/.tsbuildinfo whenever this
// package or one it references changes — so a `tsc -b` alone never leaves the command running older
// code: it then runs the compiled modules. A deployed copy (scripts/bundle.mjs) ships no
// .tsbuildinfo (package.json files), so it always runs its bundle.
import { statSync } from 'node:fs';

const mtime = (path) => statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('../dist/bundle/index.js') >= mtime('../dist/.tsbuildinfo');
const { main } = await import(bundled ? '../dist/bundle/index.js' : '../dist/index.js');

process.exitCode = await main(process.argv);
