import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TesseraClient, TesseraClientError, fromColumn, onlineFeatureRows } from '@tessera/client';
import type { OnlineFeatures, WriteTargetName } from '@tessera/client';
import type { FeatureValue } from '@tessera/core';
import {
  Column,
  GetOnlineFeaturesRequest,
  GetOnlineFeaturesResponse,
  GetRequest,
  GetResponse,
  WriteRequest,
  WriteResponse,
} from '@tessera/proto';
import { ensureGrpcurl, startCli, startOfflineServerCli, type CliProcess } from '@tessera/testkit';
import {
  PYTHON_CLIENT_DIR,
  PYTHON_INSTALL_TIMEOUT_MILLIS,
  generateGoStubs,
  goCommand,
  installPythonClient,
  type PythonClient,
} from '../support/client-builds.js';
import {
  CONFORMANCE_DIR,
  GRPC_CODE_NAMES,
  clientMismatch,
  clientReport,
  loadSetup,
  loadVectors,
  mismatch,
  normalise,
  report,
  substituteNow,
  type Answer,
  type ClientAnswer,
  type OnlineRowsView,
  type Vector,
} from './vectors.js';

/**
 * The conformance vectors (conformance/README.md) replayed against one real server (`tessera serve`
 * on the test Redis Cluster, chDB behind a `tessera offline-server`) by the TypeScript client, by
 * grpcurl through server reflection, by the Python client's stubs
 * (clients/python/tests/conformance/run_conformance.py, in a cached venv) and by the Go client's stubs
 * (`go test -tags conformance ./conformance` in clients/go); all must match every vector and each other.
 * The clients' own APIs answer too (conformance/README.md "Client-level comparison"): TypeScript
 * `getOnlineFeatures`, Python `Client.get_online_features` / `write` / typed exceptions, Go
 * `Client.GetOnlineFeatures` / `Write` / `*tessera.Error`, every vector each can express; they must
 * match the vectors and each other.
 */
const run = promisify(execFile);
const vectors = loadVectors();
const nodes = inject('redisCluster').nodes;
const keyPrefix = `conf${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-conformance-'));
// One NOW for the setup and every runner, whole seconds (conformance/README.md "The now placeholder").
const NOW = Math.floor(Date.now() / 1000) * 1000;
/** A first run on a machine installs the Python venv and compiles grpc-go: minutes on two shared cores. */
const BUILD_TIMEOUT_MILLIS = PYTHON_INSTALL_TIMEOUT_MILLIS;
const RUNNER_TIMEOUT_MILLIS = 300_000;

let offline: CliProcess;
let serve: CliProcess;
let address: string;
let client: TesseraClient;
let grpcurl: string;
let python: PythonClient;
const answers = new Map<string, Map<string, Answer>>();
/** Client-level answers by runner (`typescript-client`, `python-client`, `go-client`), expressible vectors only. */
const clientAnswers = new Map<string, Map<string, ClientAnswer>>();
const ONLINE_RPC = 'tessera.v1.FeatureStore/GetOnlineFeatures';
const WRITE_RPC = 'tessera.v1.FeatureStore/Write';

beforeAll(async () => {
  const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const cluster = ['--redis-cluster', list, '--key-prefix', keyPrefix];
  const [tool, offlineServer, pythonBin] = await Promise.all([
    ensureGrpcurl(),
    startOfflineServerCli(join(dir, 'offline'), cluster),
    installPythonClient(),
    generateGoStubs(BUILD_TIMEOUT_MILLIS),
  ]);
  grpcurl = tool;
  python = pythonBin;
  offline = offlineServer.process;
  serve = startCli([
    'serve',
    '--port',
    '0',
    ...cluster,
    '--offline-server',
    offlineServer.address,
    '--max-batch-rows',
    '5',
    '--apply',
    CONFORMANCE_DIR + '/repo',
  ]);
  address = (await serve.waitFor(/serving on (\S+)/))[1] ?? '';
  await serve.waitFor(/applied /);
  client = new TesseraClient({ address, timeoutMillis: 20_000 });
  for (const { file, json } of loadSetup()) {
    const response = await client.write(WriteRequest.fromJSON(substituteNow(json, NOW)));
    expect(Number(response.rows), `setup ${file}`).toBeGreaterThan(0);
  }
}, BUILD_TIMEOUT_MILLIS);

afterAll(async () => {
  client?.close();
  await serve?.stop('SIGTERM');
  await offline?.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function errorAnswer(error: unknown): Answer {
  if (!(error instanceof TesseraClientError)) throw error;
  return { error: { code: error.grpcCodeName, message: error.message, problems: error.problems } };
}

/** The TypeScript client: the request decoded from proto3 JSON, the call, the answer encoded back. */
async function callWithClient(vector: Vector, request: unknown): Promise<Answer> {
  try {
    switch (vector.rpc) {
      case 'tessera.v1.FeatureStore/GetOnlineFeatures':
        return {
          response: GetOnlineFeaturesResponse.toJSON(
            await client.getOnlineFeaturesRaw(GetOnlineFeaturesRequest.fromJSON(request)),
          ),
        };
      case 'tessera.v1.FeatureStore/Write':
        return { response: WriteResponse.toJSON(await client.write(WriteRequest.fromJSON(request))) };
      case 'tessera.v1.Registry/Get': {
        const get = GetRequest.fromJSON(request);
        return {
          response: GetResponse.toJSON(await client.get(get.objectType as 'feature_view', get.name)),
        };
      }
      default:
        throw new Error(`vector ${vector.name}: the TypeScript runner does not know rpc ${vector.rpc}`);
    }
  } catch (error) {
    return errorAnswer(error);
  }
}

/** grpcurl through reflection: `-format-error` prints the status as JSON, `-v` the trailers (problems). */
async function callWithGrpcurl(vector: Vector, request: unknown): Promise<Answer> {
  const args = ['-plaintext', '-v', '-format-error', '-d', JSON.stringify(request), address, vector.rpc];
  const outcome = await run(grpcurl, args, { timeout: 30_000 }).then(
    ({ stdout }) => ({ ok: true as const, stdout, stderr: '' }),
    (e: { stdout: string; stderr: string }) => ({ ok: false as const, stdout: e.stdout, stderr: e.stderr }),
  );
  if (outcome.ok) {
    const start = outcome.stdout.indexOf('Response contents:');
    const end = outcome.stdout.indexOf('Response trailers received:');
    if (start < 0 || end < 0) throw new Error(`grpcurl printed no response for ${vector.name}:\n${outcome.stdout}`);
    return { response: JSON.parse(outcome.stdout.slice(start + 'Response contents:'.length, end)) as unknown };
  }
  const status = JSON.parse(outcome.stderr.slice(outcome.stderr.indexOf('{'))) as { code: number; message: string };
  const trailer = /^tessera-problems-bin: (\S+)$/m.exec(outcome.stdout);
  return {
    error: {
      code: GRPC_CODE_NAMES[status.code] ?? `code ${status.code}`,
      message: status.message,
      problems: trailer ? (JSON.parse(Buffer.from(trailer[1]!, 'base64').toString('utf8')) as unknown[]) : [],
    },
  };
}

async function replay(runner: string, call: (vector: Vector, request: unknown) => Promise<Answer>): Promise<void> {
  const got = new Map<string, Answer>();
  answers.set(runner, got);
  const failures: string[] = [];
  for (const vector of vectors) {
    const answer = await call(vector, substituteNow(vector.request, NOW));
    got.set(vector.name, answer);
    const why = mismatch(vector, answer, NOW);
    if (why !== undefined) failures.push(report(runner, vector, why, answer, NOW));
  }
  expect(failures.join('\n\n'), `${failures.length} of ${vectors.length} vectors failed`).toBe('');
}

/** The environment of a runner in another language: the server, NOW, and where to write its answers. */
function runnerEnv(runner: string): { env: NodeJS.ProcessEnv; answersFile: string; clientAnswersFile: string } {
  const answersFile = join(dir, `${runner}-answers.json`);
  const clientAnswersFile = join(dir, `${runner}-client-answers.json`);
  return {
    answersFile,
    clientAnswersFile,
    env: {
      TESSERA_CONFORMANCE_TARGET: address,
      TESSERA_CONFORMANCE_NOW_MS: String(NOW),
      TESSERA_CONFORMANCE_DIR: CONFORMANCE_DIR,
      TESSERA_CONFORMANCE_ANSWERS: answersFile,
      TESSERA_CONFORMANCE_CLIENT_ANSWERS: clientAnswersFile,
    },
  };
}

/**
 * The client-level answers of a runner in another language (its second pass, through the client's own
 * API), checked here with the same rules. Each runner skips the vectors its API cannot say (it prints
 * them), so a floor on how many it answered keeps a runner from passing by skipping.
 */
function checkClientAnswers(
  runner: string,
  output: string,
  answersFile: string,
  floor: { online: number; write: number },
  typed: boolean,
): void {
  expect(existsSync(answersFile), `${runner} wrote ${answersFile}\n${output}`).toBe(true);
  const got = new Map(Object.entries(JSON.parse(readFileSync(answersFile, 'utf8')) as Record<string, ClientAnswer>));
  clientAnswers.set(runner, got);
  for (const name of got.keys())
    expect(
      vectors.some((v) => v.name === name),
      `${runner} answered ${name}`,
    ).toBe(true);
  const answered = vectors.filter((v) => got.has(v.name));
  const failures = answered.flatMap((vector) => {
    const answer = got.get(vector.name)!;
    const why = clientMismatch(vector, answer, NOW, typed);
    return why === undefined ? [] : [clientReport(runner, vector, why, answer, NOW, typed)];
  });
  expect(failures.join('\n\n'), output).toBe('');
  expect(output).toContain(`[${runner}] ${answered.length} of ${answered.length} vectors passed`);
  const online = answered.filter((v) => v.rpc === ONLINE_RPC);
  expect(online.length, `${runner}: GetOnlineFeatures vectors answered`).toBeGreaterThanOrEqual(floor.online);
  expect(online.filter((v) => 'rows' in got.get(v.name)!).length, `${runner}: rows answers`).toBeGreaterThan(0);
  expect(online.filter((v) => 'error' in got.get(v.name)!).length, `${runner}: typed errors`).toBeGreaterThan(0);
  expect(answered.filter((v) => v.rpc === WRITE_RPC).length, `${runner}: Write vectors`).toBeGreaterThanOrEqual(
    floor.write,
  );
}

/**
 * A client-level answer as the identity check compares it: rows without `type` (Python's dicts carry
 * none), a status by code, message and problems.
 */
function comparableClientAnswer(answer: ClientAnswer | undefined): string {
  if (answer === undefined) return 'no answer';
  if ('rows' in answer) return JSON.stringify(sortKeys(answer.rows.map(({ ref, rows }) => ({ ref, rows }))));
  if ('response' in answer) return JSON.stringify(normalise(answer.response));
  const { code, message, problems } = answer.error;
  return JSON.stringify(sortKeys({ code, message, problems }));
}

/**
 * A runner in another language has replayed the vectors (exit code 0, its own report in `output`): its
 * answers file is checked here too, with the same rules, so a runner that compares wrongly cannot pass.
 */
function checkRunnerAnswers(runner: string, code: number, output: string, answersFile: string): void {
  // Its answers first (the runner writes them even when a vector fails), for the identity check.
  const written = existsSync(answersFile)
    ? (JSON.parse(readFileSync(answersFile, 'utf8')) as Record<string, Answer>)
    : {};
  const got = new Map(Object.entries(written));
  answers.set(runner, got);
  expect(code, output).toBe(0);
  const failures = vectors.flatMap((vector) => {
    const answer = got.get(vector.name);
    if (answer === undefined) return [`[${runner}] vector ${vector.name} (${vector.file}): no answer`];
    const why = mismatch(vector, answer, NOW);
    return why === undefined ? [] : [report(runner, vector, why, answer, NOW)];
  });
  expect(failures.join('\n\n'), output).toBe('');
  expect(output).toContain(`[${runner}] ${vectors.length} of ${vectors.length} vectors passed`);
}

/** `value` with every object's keys in sorted order (for comparing JSON text). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(object)
      .sort()
      .map((k) => [k, sortKeys(object[k])]),
  );
}

/** The client-level answer of getOnlineFeatures in the rows view of conformance/README.md. */
function rowsFromClient(result: OnlineFeatures, withTimestamps: boolean): OnlineRowsView[] {
  const rows = onlineFeatureRows(result);
  return result.refs.map((ref, f) => ({
    ref,
    type: `VALUE_TYPE_${result.types[f]!.toUpperCase()}`,
    rows: rows.map((row) => ({
      status: row[ref]!.status,
      value: jsonValue(row[ref]!.value, result.types[f]!),
      ...(withTimestamps ? { eventTimestamp: String(row[ref]!.eventTimestamp ?? 0) } : {}),
    })),
  }));
}

function jsonValue(value: FeatureValue, type: string): unknown {
  if (value === null) return null;
  if (type === 'int64' || type === 'timestamp') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof BigInt64Array) return Array.from(value, String);
  if (value instanceof Float32Array || value instanceof Float64Array) return Array.from(value);
  return value;
}

describe.sequential('conformance vectors', () => {
  it('has the documented shape', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(15);
    for (const v of vectors) {
      expect(typeof v.name, v.file).toBe('string');
      expect((v.expect.response === undefined) !== (v.expect.error === undefined), v.file).toBe(true);
    }
  });

  it('the TypeScript client answers every vector', async () => {
    await replay('typescript', callWithClient);
  });

  it('grpcurl through server reflection answers every vector', async () => {
    await replay('grpcurl', callWithGrpcurl);
  });

  it(
    'the Python client (generated stubs, json_format; then get_online_features, write, typed exceptions) answers every vector',
    async () => {
      const { env, answersFile, clientAnswersFile } = runnerEnv('python');
      const script = join(PYTHON_CLIENT_DIR, 'tests', 'conformance', 'run_conformance.py');
      const result = await run(python.python, [script], {
        cwd: PYTHON_CLIENT_DIR,
        env: { ...process.env, ...python.env, ...env },
        timeout: RUNNER_TIMEOUT_MILLIS,
        maxBuffer: 16 * 1024 * 1024,
      }).then(
        ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
        (error: Error & { code?: number | string; stdout?: string; stderr?: string }) => ({
          code: typeof error.code === 'number' ? error.code : -1,
          output: `${error.stdout ?? ''}${error.stderr ?? ''}\n${error.message}`,
        }),
      );
      checkRunnerAnswers('python', result.code, result.output, answersFile);
      // Only the double join key cannot be said (the API takes ints or strs; a float is refused).
      checkClientAnswers('python-client', result.output, clientAnswersFile, { online: 18, write: 8 }, false);
    },
    RUNNER_TIMEOUT_MILLIS + 10_000,
  );

  it(
    'the Go client (tesserapb stubs, protojson; then GetOnlineFeatures, Write, *tessera.Error) answers every vector',
    async () => {
      const { env, answersFile, clientAnswersFile } = runnerEnv('go');
      const result = await goCommand(
        ['test', '-tags', 'conformance', '-count=1', '-v', './conformance'],
        env,
        RUNNER_TIMEOUT_MILLIS,
      );
      checkRunnerAnswers('go', result.code, result.output, answersFile);
      expect(result.output).toContain('--- PASS: TestConformanceVectors');
      // Every GetOnlineFeatures vector, the double join key too (a Float64s column).
      checkClientAnswers('go-client', result.output, clientAnswersFile, { online: 19, write: 8 }, true);
      expect(result.output).toContain('--- PASS: TestClientConformanceVectors');
    },
    RUNNER_TIMEOUT_MILLIS + 10_000,
  );

  it('all four runners give identical answers', () => {
    const runners = ['typescript', 'grpcurl', 'python', 'go'];
    for (const runner of runners) expect(answers.has(runner), `${runner} ran`).toBe(true);
    // Key order is no part of an answer (Go's encoding/json writes a problem's keys sorted).
    const show = (x: Answer | undefined): string =>
      JSON.stringify(x === undefined ? 'no answer' : 'response' in x ? normalise(x.response) : sortKeys(x.error));
    const reference = answers.get('typescript')!;
    const differ = vectors.flatMap((v) => {
      const want = show(reference.get(v.name));
      const others = runners.slice(1).filter((r) => show(answers.get(r)!.get(v.name)) !== want);
      if (others.length === 0) return [];
      return [`${v.name}\n${runners.map((r) => `  ${r.padEnd(10)}: ${show(answers.get(r)!.get(v.name))}`).join('\n')}`];
    });
    expect(differ.join('\n')).toBe('');
  });

  it('getOnlineFeatures(refs, entities) agrees with every GetOnlineFeatures vector, row by row', async () => {
    const failures: string[] = [];
    let checked = 0;
    const got = new Map<string, ClientAnswer>();
    clientAnswers.set('typescript-client', got);
    for (const vector of vectors.filter((v) => v.rpc === 'tessera.v1.FeatureStore/GetOnlineFeatures')) {
      const request = substituteNow(vector.request, NOW) as {
        features?: string[];
        featureService?: string;
        includeEventTimestamps?: boolean;
        entities: Record<string, { int64Values?: { values: string[] }; stringValues?: { values: string[] } }>;
      };
      const entities: Record<string, (bigint | string)[]> = {};
      let expressible = true;
      for (const [name, column] of Object.entries(request.entities)) {
        if (column.int64Values) entities[name] = column.int64Values.values.map(BigInt);
        else if (column.stringValues) entities[name] = column.stringValues.values;
        else expressible = false; // a wrongly typed key column: the typed API cannot even say it
      }
      if (!expressible) continue;
      checked++;
      const withTimestamps = request.includeEventTimestamps === true;
      const refs = request.featureService ? { featureService: request.featureService } : (request.features ?? []);
      const answer: ClientAnswer = await client
        .getOnlineFeatures(refs, entities, { includeEventTimestamps: withTimestamps })
        .then((r) => ({ rows: rowsFromClient(r, withTimestamps) }), errorAnswer);
      got.set(vector.name, answer);
      const why = clientMismatch(vector, answer, NOW, true);
      if (why !== undefined) failures.push(clientReport('typescript-client', vector, why, answer, NOW, true));
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    expect(failures.join('\n\n')).toBe('');
  });

  it('write(view, columns) agrees with every Write vector, whole refusals included', async () => {
    const failures: string[] = [];
    const got = clientAnswers.get('typescript-client')!;
    const targets: Record<string, WriteTargetName> = {
      WRITE_TARGET_ONLINE_AND_OFFLINE: 'online_and_offline',
      WRITE_TARGET_ONLINE: 'online',
      WRITE_TARGET_OFFLINE: 'offline',
    };
    const writes = vectors.filter((v) => v.rpc === 'tessera.v1.FeatureStore/Write');
    for (const vector of writes) {
      const request = substituteNow(vector.request, NOW) as {
        featureView: string;
        columns: Record<string, unknown>;
        eventTimestamps: unknown;
        target?: string;
        idempotencyKey?: string;
      };
      // The values as a caller holds them (a string where the view wants int64 stays a string).
      const columns = Object.fromEntries(
        Object.entries(request.columns).map(([name, column]) => [name, fromColumn(Column.fromJSON(column))]),
      );
      const eventTimestamps = fromColumn(Column.fromJSON(request.eventTimestamps)) as (number | string)[];
      const answer: ClientAnswer = await client
        .write(
          request.featureView,
          { columns, eventTimestamps },
          {
            // One message, as the vector sends it: the batch limit is the server's to enforce.
            batchRows: Math.max(1, eventTimestamps.length),
            ...(request.target === undefined ? {} : { target: targets[request.target]! }),
            ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
          },
        )
        .then((r) => ({ response: WriteResponse.toJSON(r) }), errorAnswer);
      got.set(vector.name, answer);
      const why = clientMismatch(vector, answer, NOW, true);
      if (why !== undefined) failures.push(clientReport('typescript-client', vector, why, answer, NOW, true));
    }
    expect(writes.length).toBeGreaterThanOrEqual(8);
    expect(failures.join('\n\n')).toBe('');
  });

  it('the TypeScript, Python and Go client APIs give identical answers wherever two or more express a vector', () => {
    const runners = ['typescript-client', 'python-client', 'go-client'];
    for (const runner of runners) expect(clientAnswers.has(runner), `${runner} ran`).toBe(true);
    let byAllThree = 0;
    const differ = vectors.flatMap((v) => {
      const which = runners.filter((r) => clientAnswers.get(r)!.has(v.name));
      if (which.length < 2) return [];
      if (which.length === 3) byAllThree++;
      const shown = which.map((r) => comparableClientAnswer(clientAnswers.get(r)!.get(v.name)));
      if (shown.every((x) => x === shown[0])) return [];
      return [`${v.name}\n${which.map((r, i) => `  ${r.padEnd(17)}: ${shown[i]}`).join('\n')}`];
    });
    expect(differ.join('\n')).toBe('');
    expect(byAllThree, 'vectors all three clients express: 18 reads, 8 writes').toBeGreaterThanOrEqual(26);
  });
});
