#!/usr/bin/env node
// Generates the Go stubs of proto/tessera/v1 into clients/go/tesserapb (gitignored, never committed):
// builds the pinned protoc-gen-go and protoc-gen-go-grpc into ~/.cache/tessera/go-bin (once per
// machine) and runs buf (from node_modules, no protoc needed) with clients/go/buf.gen.yaml.
// `go generate ./...` in clients/go runs this script.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoTool } from '@tessera/testkit';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// protoc-gen-go must match clients/go/go.mod's google.golang.org/protobuf; protoc-gen-go-grpc v1.6
// needs google.golang.org/grpc 1.64 or later.
const PLUGINS = [
  { modulePath: 'google.golang.org/protobuf/cmd/protoc-gen-go', version: 'v1.36.12', binName: 'protoc-gen-go' },
  {
    modulePath: 'google.golang.org/grpc/cmd/protoc-gen-go-grpc',
    version: 'v1.6.2',
    binName: 'protoc-gen-go-grpc',
  },
];

const paths = [];
for (const { modulePath, version, binName } of PLUGINS) {
  paths.push(dirname(await ensureGoTool(modulePath, version, binName)));
}
const out = join(root, 'clients/go/tesserapb');
rmSync(out, { recursive: true, force: true });
execFileSync(
  join(root, 'node_modules/.bin/buf'),
  ['generate', '--template', 'clients/go/buf.gen.yaml', '--path', 'proto/tessera/v1'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PATH: [...paths, process.env.PATH ?? ''].join(delimiter) },
  },
);
// On stderr: `go generate && go run …` prints only the program's output.
console.error('generated clients/go/tesserapb from proto/tessera/v1');
