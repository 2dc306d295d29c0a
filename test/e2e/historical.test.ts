import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/core';
import { fromColumn, toColumn } from '@tessera/client';
import { HistoricalFormat, WriteTarget } from '@tessera/proto';
import type { GetHistoricalResponse } from '@tessera/proto';
import { definitionsFromYaml, pollUntil } from '@tessera/testkit';
import { freshBackend, startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'packages', 'cli', 'bin', 'tessera.js');
const run = promisify(execFile);

const REPO = {
  'repo.yaml': `
project: training
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: stats
    entities: [customer]
    ttl: 10d
    features:
      - { name: spend, type: double }
      - { name: segment, type: string }
  - name: profile
    entities: [customer]
    features:
      - { name: country, type: string }
`,
};

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

/** Entity rows and what a point-in-time join must answer for each (spend, segment, country). */
const ENTITY_ROWS: {
  id: number;
  at: number;
  label: number;
  spend: number | null;
  segment: string | null;
  country: string | null;
}[] = [
  { id: 1, at: T0 + 5 * DAY, label: 1, spend: 10, segment: 'new', country: 'DE' }, // after the first event
  { id: 1, at: T0 + 1 * DAY, label: 0, spend: null, segment: null, country: 'DE' }, // before any stats event
  { id: 1, at: T0 + 10 * DAY, label: 1, spend: 30, segment: 'vip', country: 'DE' }, // exactly at the second event
  { id: 1, at: T0 + 25 * DAY, label: 0, spend: null, segment: null, country: 'DE' }, // beyond the 10-day TTL
  { id: 2, at: T0 + 5 * DAY, label: 0, spend: null, segment: null, country: null }, // never written
];

describe('training sets over gRPC and the CLI (embedded chDB)', () => {
  let t: TestServer;
  let cleanup: () => void;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-historical-'));
    const fresh = freshBackend('embedded', []);
    cleanup = fresh.cleanup;
    t = await startTestServer(fresh.backend);
    await t.client.apply(definitionsFromYaml(REPO));
    const stats = [
      { at: T0 + 2 * DAY, spend: 10, segment: 'new' },
      { at: T0 + 10 * DAY, spend: 30, segment: 'vip' },
    ];
    for (const row of stats) {
      // Offline only: the online store is not the subject here.
      await t.client.write({
        featureView: 'stats',
        target: WriteTarget.WRITE_TARGET_OFFLINE,
        columns: {
          customer_id: toColumn('int64', [1n]),
          spend: toColumn('double', [row.spend]),
          segment: toColumn('string', [row.segment]),
        },
        eventTimestamps: toColumn('timestamp', [row.at]),
      });
    }
    // online + offline (the default target).
    await t.client.write({
      featureView: 'profile',
      columns: { customer_id: toColumn('int64', [1n]), country: toColumn('string', ['DE']) },
      eventTimestamps: toColumn('timestamp', [T0]),
    });
    // Write-behind acknowledges before the outbox drains into chDB: wait for it (bounded), or a
    // loaded machine reads the training set before the row is there.
    expect(await pollUntil(async () => (await t.server.writeBehind.stats()).pendingJobs === 0, 30_000, 50)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    cleanup?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (format: HistoricalFormat) => ({
    entities: {
      $case: 'rows' as const,
      value: {
        keys: {
          customer_id: toColumn(
            'int64',
            ENTITY_ROWS.map((r) => BigInt(r.id)),
          ),
        },
        eventTimestamps: ENTITY_ROWS.map((r) => BigInt(r.at)),
        passthrough: {
          label: toColumn(
            'int64',
            ENTITY_ROWS.map((r) => BigInt(r.label)),
          ),
        },
      },
    },
    features: ['stats:spend', 'stats:segment', 'profile:country'],
    featureService: '',
    format,
    chunkRows: 2,
  });

  const collect = async (format: HistoricalFormat) => {
    const chunks: GetHistoricalResponse[] = [];
    for await (const chunk of t.client.getHistorical(request(format))) chunks.push(chunk);
    return chunks;
  };

  it('answers what was known at each moment, in input order, with nulls where nothing was', async () => {
    const chunks = await collect(HistoricalFormat.HISTORICAL_FORMAT_COLUMNS);
    expect(chunks.map((c) => [Number(c.firstRow), c.rowCount])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ]);
    const names = chunks[0]!.names;
    expect(names).toEqual(['customer_id', 'event_ts', 'label', 'stats__spend', 'stats__segment', 'profile__country']);
    const column = (name: string) => chunks.flatMap((c) => fromColumn(c.columns[names.indexOf(name)]!));
    expect(column('customer_id')).toEqual(ENTITY_ROWS.map((r) => BigInt(r.id)));
    expect(column('event_ts')).toEqual(ENTITY_ROWS.map((r) => r.at));
    expect(column('label')).toEqual(ENTITY_ROWS.map((r) => BigInt(r.label)));
    expect(column('stats__spend')).toEqual(ENTITY_ROWS.map((r) => r.spend));
    expect(column('stats__segment')).toEqual(ENTITY_ROWS.map((r) => r.segment));
    expect(column('profile__country')).toEqual(ENTITY_ROWS.map((r) => r.country));
  });

  it('streams the same rows as Arrow IPC', async () => {
    const chunks = await collect(HistoricalFormat.HISTORICAL_FORMAT_ARROW);
    const rows = chunks.flatMap((c) =>
      tableFromIPC(c.arrowIpc)
        .toArray()
        .map((r: { toJSON(): Record<string, unknown> }) => r.toJSON()),
    );
    expect(rows.map((r) => r['stats__spend'])).toEqual(ENTITY_ROWS.map((r) => r.spend));
    expect(rows.map((r) => r['profile__country'])).toEqual(ENTITY_ROWS.map((r) => r.country));
    expect(rows.map((r) => Number(r['customer_id']))).toEqual(ENTITY_ROWS.map((r) => r.id));
  });

  it('refuses unknown refs and malformed entity SQL', async () => {
    const bad = async (override: Partial<ReturnType<typeof request>>) => {
      try {
        for await (const _ of t.client.getHistorical({
          ...request(HistoricalFormat.HISTORICAL_FORMAT_COLUMNS),
          ...override,
        }))
          void _;
        return undefined;
      } catch (error) {
        return error as TesseraError;
      }
    };
    expect((await bad({ features: ['stats:nope'] }))?.code).toBe('NOT_FOUND');
    const sqlError = await bad({ entities: { $case: 'entitySql', value: 'SELECT 1 AS wrong_column' } } as never);
    expect(sqlError?.code).toBe('INVALID_ARGUMENT');
  });

  it('builds a training set file from a CSV of entity rows with the CLI', async () => {
    const entities = join(dir, 'entities.csv');
    writeFileSync(
      entities,
      'event_ts,customer_id,label\n' +
        ENTITY_ROWS.map((r) => `${new Date(r.at).toISOString()},${r.id},${r.label}`).join('\n') +
        '\n',
    );
    const cli = (...args: string[]) => run('node', [CLI, '--server', t.server.address, ...args]);
    const csvOut = join(dir, 'train.csv');
    await cli(
      'historical',
      '--entities',
      entities,
      '--features',
      'stats:spend,stats:segment,profile:country',
      '--out',
      csvOut,
    );
    const lines = readFileSync(csvOut, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('event_ts,customer_id,label,stats__spend,stats__segment,profile__country');
    expect(lines.slice(1)).toEqual(
      ENTITY_ROWS.map((r) =>
        [new Date(r.at).toISOString(), r.id, r.label, r.spend ?? '', r.segment ?? '', r.country ?? ''].join(','),
      ),
    );

    for (const out of ['train.parquet', 'train.arrow']) {
      const path = join(dir, out);
      const result = await cli(
        'historical',
        '--entities',
        entities,
        '--features',
        'stats:spend,profile:country',
        '--out',
        path,
      );
      expect(result.stdout).toContain(`wrote ${ENTITY_ROWS.length} rows`);
    }
    // The Parquet training set read back as entity rows: Parquet in and out, columns kept.
    const again = join(dir, 'again.csv');
    await cli('historical', '--entities', join(dir, 'train.parquet'), '--features', 'stats:segment', '--out', again);
    const againLines = readFileSync(again, 'utf8').trim().split('\n');
    expect(againLines[0]).toBe('event_ts,customer_id,label,stats__spend,profile__country,stats__segment');
    expect(againLines.slice(1).map((l) => l.split(',').slice(3))).toEqual(
      ENTITY_ROWS.map((r) => [String(r.spend ?? ''), r.country ?? '', r.segment ?? '']),
    );

    const arrow = tableFromIPC(readFileSync(join(dir, 'train.arrow')));
    expect(arrow.schema.fields.map((f) => f.name)).toEqual([
      'event_ts',
      'customer_id',
      'label',
      'stats__spend',
      'profile__country',
    ]);
    expect(arrow.toArray().map((r: { toJSON(): Record<string, unknown> }) => r.toJSON()['stats__spend'])).toEqual(
      ENTITY_ROWS.map((r) => r.spend),
    );
  });
});
