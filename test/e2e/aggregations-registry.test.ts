/**
 * Event views and window aggregations through a real `tessera serve` (embedded: LMDB + chDB), until
 * their serving lands (docs/design/window-aggregations.md §6.1, increment 2): `tessera apply` names
 * the aggregations, Registry.Get returns them with their assigned fields, a bad window is refused
 * naming file, path, line and rule, a Write to an event view serves its plain features as before and
 * its window aggregations online (increment 5: status PRESENT, event timestamp = the read's t), while
 * GetHistorical serves them too (test/e2e/historical-aggregations.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TesseraClient } from '@tessera/client';
import { AggregationFunction, AggregationState, ValueType, ViewKind } from '@tessera/proto';
import { type CliProcess, startServeProcess } from '@tessera/testkit';

const CLI = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'tessera.js');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const ENTITIES = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
`;
const VIEWS = `
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
    allowed_lateness: 2h
    features:
      - { name: amount, type: double, min: 0 }
      - { name: category, type: string, not_null: true }
    aggregations:
      - { name: purchases_7d, function: count, window: 7d }
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
`;
const SERVICES = `
feature_services:
  - { name: churn, features: ['purchases:*', 'purchases:revenue_30d'] }
`;

const dir = mkdtempSync(join(tmpdir(), 'tessera-agg-registry-'));
let server: { process: CliProcess; client: TesseraClient };

function repo(name: string, files: Record<string, string>): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
  return path;
}

function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const address = server.process.output().match(/serving on (\S+)/)?.[1] ?? '';
  return new Promise((resolve) => {
    execFile('node', [CLI, '--server', address, ...args], { cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  // Writes at most 30 minutes ahead: an event view may not tolerate more.
  server = await startServeProcess(['--data-dir', join(dir, 'data')], {
    TESSERA_LIMITS_MAX_EVENT_TIME_SKEW_MILLIS: String(30 * 60_000),
  });
}, 60_000);

afterAll(async () => {
  server.client.close();
  await server.process.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('event views through a real server', () => {
  it('refuses a bad window at apply, naming file, path, line and rule, and applies nothing', async () => {
    const bad = VIEWS.replace('window: 30d }', 'window: 100m, hop: 15m }');
    const result = await tessera('apply', repo('bad', { 'entities.yaml': ENTITIES, 'views.yaml': bad }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'bad/views.yaml: feature_views[0].aggregations[1].window: feature view purchases, aggregation revenue_30d: ' +
        'window 100m is not a multiple of hop 15m; use 90m or 105m, or hop: 5m (line 12)',
    );
    expect((await server.client.list()).featureViews).toEqual([]);
  });

  it("refuses a future tolerance above the server's write skew limit", async () => {
    const ahead = VIEWS.replace('allowed_lateness: 2h', 'allowed_lateness: 2h\n    future_tolerance: 1h');
    const result = await tessera('apply', repo('ahead', { 'entities.yaml': ENTITIES, 'views.yaml': ahead }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      "feature_views[0].future_tolerance: feature view purchases: future_tolerance 1h is above this server's " +
        'maxEventTimeSkewMillis (1800000 ms)',
    );
    expect((await server.client.list()).featureViews).toEqual([]);
  });

  it('applies the aggregations, names them in the output and returns them from Registry.Get', async () => {
    const good = repo('good', { 'entities.yaml': ENTITIES, 'views.yaml': VIEWS, 'services.yaml': SERVICES });
    const applied = await tessera('apply', good);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('kind: events (allowed_lateness 2h, future_tolerance 1m)');
    expect(applied.stdout).toContain('aggregations: purchases_7d = count 7d/1h, revenue_30d = sum amount 30d/1d');

    const view = (await server.client.get('feature_view', 'purchases')).object;
    expect(view?.$case).toBe('featureView');
    const wire = view?.$case === 'featureView' ? view.value : undefined;
    expect(wire?.kind).toBe(ViewKind.VIEW_KIND_EVENTS);
    expect(wire?.events).toEqual({ allowedLatenessMillis: BigInt(2 * HOUR), futureToleranceMillis: 60_000n });
    expect(wire?.aggregations.map((a) => [a.name, a.function, a.windowMillis, a.hopMillis, a.type, a.state])).toEqual([
      [
        'purchases_7d',
        AggregationFunction.AGGREGATION_FUNCTION_COUNT,
        BigInt(7 * DAY),
        BigInt(HOUR),
        ValueType.VALUE_TYPE_INT64,
        AggregationState.AGGREGATION_STATE_READY,
      ],
      [
        'revenue_30d',
        AggregationFunction.AGGREGATION_FUNCTION_SUM,
        BigInt(30 * DAY),
        BigInt(DAY),
        ValueType.VALUE_TYPE_DOUBLE,
        AggregationState.AGGREGATION_STATE_READY,
      ],
    ]);

    const features = await tessera('ls', 'features');
    expect(features.stdout).toMatch(/purchases:revenue_30d\s+double\s+\[sum amount 30d\/1d\]/);

    // Changing a window makes a new version until online tile rebuilds exist; History says why.
    writeFileSync(join(good, 'views.yaml'), VIEWS.replace('window: 30d }', 'window: 28d }'));
    const changed = await tessera('apply', good);
    expect(changed.code).toBe(0);
    const line = "aggregation revenue_30d: window 30d -> 28d (breaking: the version's tile layout changes)";
    expect(changed.stdout).toContain(line);
    const history = await server.client.history('purchases');
    expect(history.versions.length).toBe(2);
    expect(history.versions.flatMap((v) => v.changes)).toContain(`  ${line}`);
  });

  it('writes to an event view as to a plain one and reads its plain features with view:*', async () => {
    const now = Date.now();
    const written = await server.client.write(
      'purchases',
      [{ customer_id: 7n, amount: 12.5, category: 'books', event_timestamp: now - 1_000 }],
      { durability: 'sync' },
    );
    expect(written.rowsAppliedOnline).toBe(1n);
    const got = await server.client.getOnlineFeatures(['purchases:*'], { customer_id: [7n] });
    expect(got.refs).toEqual(['purchases@2:amount', 'purchases@2:category']); // version 2 since the window change above
    expect(got.values).toEqual([[12.5], ['books']]);
  });

  it('serves a written event in GetOnlineFeatures of its aggregations, status PRESENT, at the read time', async () => {
    const before = Date.now();
    const got = await server.client.getOnlineFeatures(
      ['purchases:revenue_30d', 'purchases:purchases_7d'],
      { customer_id: [7n, 8n] },
      { includeEventTimestamps: true },
    );
    expect(got.refs).toEqual(['purchases@2:revenue_30d', 'purchases@2:purchases_7d']);
    // Customer 8 has no events: an empty window is a value (sum 0, count 0), not NOT_FOUND.
    expect(got.values).toEqual([
      [12.5, 0],
      [1n, 0n],
    ]);
    expect(got.statuses.flat()).toEqual(new Array(4).fill('PRESENT'));
    for (const at of got.eventTimestamps?.flat() ?? [0]) expect(at).toBeGreaterThanOrEqual(before);
    const service = await server.client.getOnlineFeatures({ featureService: 'churn' }, { customer_id: [7n] });
    expect(service.values).toEqual([[12.5], ['books'], [12.5]]);
    const cli = await tessera('get', 'purchases:revenue_30d', '--entity', 'customer_id=7');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('12.5');
  });
});
