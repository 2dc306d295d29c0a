import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitionsFromYaml, ensureGrpcurl } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const run = promisify(execFile);

/** grpcurl, built with `go install`, against a real server: reflection must resolve every file and import. */
describe('grpcurl through server reflection', () => {
  let t: TestServer;
  let cleanup: () => void;
  let grpcurl: string;
  /** `grpcurl -plaintext [-d data] <server> <rest…>`. */
  const call = async (data: string | undefined, ...rest: string[]) =>
    (await run(grpcurl, ['-plaintext', ...(data === undefined ? [] : ['-d', data]), t.server.address, ...rest])).stdout;

  beforeAll(async () => {
    grpcurl = await ensureGrpcurl();
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
    await t.client.apply(
      definitionsFromYaml({
        'repo.yaml': `
project: grpcurl
entities: [{ name: customer, join_keys: [{ name: customer_id, type: int64 }] }]
feature_views:
  - name: stats
    entities: [customer]
    features: [{ name: score, type: double }]
`,
      }),
    );
  }, 300_000);
  afterAll(async () => {
    await t[Symbol.asyncDispose]();
    cleanup();
  });

  it('lists every service', async () => {
    const services = (await run(grpcurl, ['-plaintext', t.server.address, 'list'])).stdout.trim().split('\n');
    expect(services).toEqual([
      'grpc.health.v1.Health',
      'tessera.v1.FeatureStore',
      'tessera.v1.Operations',
      'tessera.v1.Registry',
    ]);
  });

  it('describes every service and the messages they import from other files', async () => {
    for (const symbol of [
      'tessera.v1.FeatureStore',
      'tessera.v1.Registry',
      'tessera.v1.Operations',
      'grpc.health.v1.Health',
    ]) {
      expect(await call(undefined, 'describe', symbol)).toContain(`service ${symbol.split('.').at(-1)!}`);
    }
    // Column lives in types.proto, FeatureView's created_at in google/protobuf/timestamp.proto.
    expect(await call(undefined, 'describe', 'tessera.v1.Column')).toContain('repeated uint32 null_rows = 15;');
    expect(await call(undefined, 'describe', 'tessera.v1.FeatureView')).toContain(
      '.google.protobuf.Timestamp created_at = 19;',
    );
  });

  it('calls every service', async () => {
    expect(JSON.parse(await call('{"service": "tessera.v1.FeatureStore"}', 'grpc.health.v1.Health/Check'))).toEqual({
      status: 'SERVING',
    });
    const list = JSON.parse(await call('{}', 'tessera.v1.Registry/List')) as {
      project: string;
      featureViews: { name: string }[];
    };
    expect(list.project).toBe('grpcurl');
    expect(list.featureViews.map((v) => v.name)).toEqual(['stats']);

    await call(
      '{"featureView": "stats", "target": "WRITE_TARGET_ONLINE", "columns": {"customer_id": {"int64Values": {"values": ["7"]}}, "score": {"doubleValues": {"values": [0.5]}}}, "eventTimestamps": {"stringValues": {"values": ["2025-01-01T00:00:00Z"]}}}',
      'tessera.v1.FeatureStore/Write',
    );
    const got = JSON.parse(
      await call(
        '{"features": ["stats:score"], "entities": {"customer_id": {"int64Values": {"values": ["7", "8"]}}}}',
        'tessera.v1.FeatureStore/GetOnlineFeatures',
      ),
    ) as {
      features: {
        ref: string;
        values: { doubleValues: { values: number[] }; nullRows: number[] };
        statuses: string[];
      }[];
    };
    expect(got.features[0]).toMatchObject({
      ref: 'stats@1:score',
      values: { doubleValues: { values: [0.5, 0] }, nullRows: [1] },
      statuses: ['FEATURE_STATUS_PRESENT', 'FEATURE_STATUS_NOT_FOUND'],
    });
  });

  it('shows the error status and message of a streaming RPC (Materialize without views)', async () => {
    const failure = await run(grpcurl, [
      '-plaintext',
      '-d',
      '{}',
      t.server.address,
      'tessera.v1.FeatureStore/Materialize',
    ]).then(
      () => undefined,
      (e: { stderr: string }) => e.stderr,
    );
    expect(failure).toContain('InvalidArgument');
    expect(failure).toContain('Materialize: name at least one feature view');
  });
});
