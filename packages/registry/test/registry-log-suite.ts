/**
 * One behavioural suite for every RegistryLog implementation, and for the Registry on top of it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  emptyRegistryState,
  parseRepository,
  planApply,
  type Definitions,
  type RegistryLog,
  type RegistryState,
} from '@tessera/core';
import { Registry } from '../src/index.js';

export interface RegistryLogHarness {
  /** A log over a fresh, empty namespace (a new directory or key prefix). */
  fresh(): Promise<RegistryLog>;
  /** A second log over the same namespace as `log` (another server, or a restart when `log` is closed). */
  sameAs(log: RegistryLog): Promise<RegistryLog>;
}

const ENTITIES = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
`;

function viewsYaml(features: string): string {
  return `
feature_views:
  - name: customer_stats
    entities: [customer]
    ttl: 30d
    features:
${features}
feature_services:
  - { name: checkout_model, features: ["customer_stats:*"] }
`;
}

export const FEATURES_V1 = `
      - { name: loyalty_score, type: double, min: 0, max: 5 }
      - { name: tier, type: int64, allowed_values: [1, 9007199254740993] }
`;

export function definitionsOf(features: string): Definitions {
  const result = parseRepository([
    { path: 'entities.yaml', text: ENTITIES },
    { path: 'views.yaml', text: viewsYaml(features) },
  ]);
  expect(result.problems).toEqual([]);
  return result.definitions as Definitions;
}

function entry(state: RegistryState, defs: Definitions, author = 'ana') {
  const plan = planApply(state, defs, { nowMillis: 1_000 + state.sequence });
  return {
    sequence: plan.next.sequence,
    state: plan.next,
    author,
    appliedAtMillis: 1_000 + state.sequence,
    changes: plan.changes,
  };
}

export function describeRegistryLog(name: string, harness: RegistryLogHarness): void {
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(closable: T): T => {
    open.push(closable);
    return closable;
  };
  afterEach(async () => {
    for (const closable of open.splice(0).reverse()) await closable.close();
  });

  describe(`${name} (RegistryLog)`, () => {
    it('reads nothing before the first append', async () => {
      const log = track(await harness.fresh());
      expect(await log.read()).toBeNull();
      expect(await log.readSequence()).toBe(0);
      expect(await log.records()).toEqual([]);
    });

    it('appends and reads back the state, bigints included, and the records', async () => {
      const log = track(await harness.fresh());
      const first = entry(emptyRegistryState(), definitionsOf(FEATURES_V1));
      expect(await log.append(0, first)).toBe(true);
      const read = await log.read();
      expect(read?.sequence).toBe(1);
      expect(read?.state).toEqual(first.state);
      const tier = read?.state.featureViews.get('customer_stats')?.versions[0]?.features[1];
      expect(tier?.constraints.allowedValues).toEqual([1n, 9007199254740993n]);
      expect(await log.readSequence()).toBe(1);
      expect(await log.records()).toEqual([
        { sequence: 1, author: 'ana', appliedAtMillis: first.appliedAtMillis, changes: first.changes },
      ]);
    });

    it('refuses an append whose expected sequence is stale', async () => {
      const log = track(await harness.fresh());
      const first = entry(emptyRegistryState(), definitionsOf(FEATURES_V1));
      expect(await log.append(0, first)).toBe(true);
      const again = entry(emptyRegistryState(), definitionsOf(FEATURES_V1), 'bo');
      expect(await log.append(0, again)).toBe(false);
      expect((await log.records()).map((r) => r.author)).toEqual(['ana']);
    });

    it('lets exactly one of two concurrent appenders win', async () => {
      const a = track(await harness.fresh());
      const b = track(await harness.sameAs(a));
      const results = await Promise.all([
        a.append(0, entry(emptyRegistryState(), definitionsOf(FEATURES_V1), 'a')),
        b.append(0, entry(emptyRegistryState(), definitionsOf(FEATURES_V1), 'b')),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await a.readSequence()).toBe(1);
      expect((await b.records()).map((r) => r.author)).toEqual([results[0] ? 'a' : 'b']);
    });

    it('keeps everything across a restart', async () => {
      const log = await harness.fresh();
      const first = entry(emptyRegistryState(), definitionsOf(FEATURES_V1));
      expect(await log.append(0, first)).toBe(true);
      await log.close();
      const reopened = track(await harness.sameAs(log));
      expect((await reopened.read())?.state).toEqual(first.state);
      expect(await reopened.records()).toHaveLength(1);
    });
  });

  describe(`Registry on ${name}`, () => {
    it('applies, lists, gets and dry-runs', async () => {
      const registry = track(await Registry.open(await harness.fresh(), { pollIntervalMillis: 0 }));
      const dry = await registry.apply(definitionsOf(FEATURES_V1), { dryRun: true, author: 'ana' });
      expect(dry).toMatchObject({ dryRun: true, sequence: 0 });
      expect(dry.changes.map((c) => c.kind)).toEqual(['create', 'create', 'create']);
      expect(registry.state().sequence).toBe(0);

      const applied = await registry.apply(definitionsOf(FEATURES_V1), { author: 'ana' });
      expect(applied.sequence).toBe(1);
      expect(registry.list().featureViews.map((v) => [v.name, v.version])).toEqual([['customer_stats', 1]]);
      expect(registry.get('feature_view', 'customer_stats@1')).toMatchObject({ featureView: { id: 1, version: 1 } });
      expect(() => registry.get('feature_view', 'customer_stats@2')).toThrow(/Unknown feature view/);
      expect(registry.resolveFeatures({ featureService: 'checkout_model' }).features.map((f) => f.ref)).toEqual([
        'customer_stats@1:loyalty_score',
        'customer_stats@1:tier',
      ]);

      const unchanged = await registry.apply(definitionsOf(FEATURES_V1));
      expect(unchanged.sequence).toBe(1);
      expect(unchanged.changes.every((c) => c.kind === 'unchanged')).toBe(true);
    });

    it('rejects invalid definitions with every problem', async () => {
      const registry = track(await Registry.open(await harness.fresh(), { pollIntervalMillis: 0 }));
      const defs = definitionsOf(FEATURES_V1);
      const broken: Definitions = {
        ...defs,
        featureViews: [{ ...defs.featureViews[0]!, ttlSeconds: -1, entities: ['ghost'] }],
      };
      await expect(registry.apply(broken)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        details: [{ path: 'feature_views[0].entities[0]' }, { path: 'feature_views[0].ttl_seconds' }],
      });
    });

    it('lets another server see an apply after a refresh, on a miss and by polling', async () => {
      const logA = await harness.fresh();
      const logB = await harness.sameAs(logA);
      const a = track(await Registry.open(logA, { pollIntervalMillis: 0 }));
      const seen: number[] = [];
      const b = track(
        await Registry.open(logB, {
          pollIntervalMillis: 0,
          missRefreshIntervalMillis: 0,
          onChange: (state) => seen.push(state.sequence),
        }),
      );
      await a.apply(definitionsOf(FEATURES_V1), { author: 'ana' });
      expect(b.state().sequence).toBe(0);
      expect(() => b.resolveFeatures({ refs: ['customer_stats:tier'] })).toThrow(/no feature view customer_stats/);
      const resolved = await b.resolveFeaturesWithRefresh({ refs: ['customer_stats:tier'] });
      expect(resolved.features[0]?.ref).toBe('customer_stats@1:tier');
      expect(seen).toEqual([1]);

      const logC = await harness.sameAs(logA);
      let onPolled: (sequence: number) => void = () => undefined;
      const polled = new Promise<number>((resolve) => (onPolled = resolve));
      // Open before the apply below (a loaded machine may take longer than any fixed wait), so it
      // reads sequence 1 and sees the apply only by polling.
      track(await Registry.open(logC, { pollIntervalMillis: 20, onChange: (state) => onPolled(state.sequence) }));
      await a.apply(definitionsOf(`${FEATURES_V1}      - { name: visits, type: int64 }\n`), { author: 'bo' });
      expect(await polled).toBe(2);
      expect(await b.refresh()).toBe(true);
      expect(b.get('feature_view', 'customer_stats')).toMatchObject({ featureView: { version: 1 } });
    });

    it('refreshes on a miss past a poll that read the log before the apply, once for concurrent misses', async () => {
      const logA = await harness.fresh();
      const logB = await harness.sameAs(logA);
      const a = track(await Registry.open(logA, { pollIntervalMillis: 0 }));
      // B's first sequence read (a poll under way when the apply lands) answers only once released.
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      let sequenceReads = 0;
      const heldLog = new Proxy(logB, {
        get(target, property) {
          if (property !== 'readSequence') {
            // Bound to the log itself: its methods use private fields.
            const value = Reflect.get(target, property) as unknown;
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          }
          return async () => {
            const sequence = await target.readSequence();
            if (sequenceReads++ === 0) await held;
            return sequence;
          };
        },
      });
      const b = track(await Registry.open(heldLog, { pollIntervalMillis: 0 }));
      const polling = b.refresh();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await a.apply(definitionsOf(FEATURES_V1), { author: 'ana' });
      const misses = [1, 2, 3].map(() => b.resolveFeaturesWithRefresh({ refs: ['customer_stats:tier'] }));
      release();
      expect(await polling).toBe(false);
      for (const resolved of await Promise.all(misses)) {
        expect(resolved.features[0]?.ref).toBe('customer_stats@1:tier');
      }
      // The held poll, then one refresh for the three misses.
      expect(sequenceReads).toBe(2);
    });

    it('retries an apply that lost a race, re-planning on the winner', async () => {
      const logA = await harness.fresh();
      const a = track(await Registry.open(logA, { pollIntervalMillis: 0 }));
      const b = track(await Registry.open(await harness.sameAs(logA), { pollIntervalMillis: 0 }));
      await a.apply(definitionsOf(FEATURES_V1));
      const [ra, rb] = await Promise.all([
        a.apply(definitionsOf(`${FEATURES_V1}      - { name: from_a, type: int64 }\n`), { author: 'a' }),
        b.apply(definitionsOf(`      - { name: loyalty_score, type: int64 }\n`), { author: 'b' }),
      ]);
      expect([ra.sequence, rb.sequence].sort()).toEqual([2, 3]);
      await a.refresh();
      const lineage = a.state().featureViews.get('customer_stats');
      // a first: from_a joins version 1 compatibly, then b's type change makes version 2. b first:
      // b makes version 2, and a, re-planned on it, changes loyalty_score's type back: version 3.
      expect(lineage?.versions.length).toBe(rb.sequence === 2 ? 3 : 2);
      expect(lineage?.versions.every((v) => v.id === 1)).toBe(true);
    });

    it('keeps the history of every version: who, when, what', async () => {
      let now = Date.UTC(2026, 0, 1);
      const registry = track(
        await Registry.open(await harness.fresh(), { pollIntervalMillis: 0, nowMillis: () => now }),
      );
      await registry.apply(definitionsOf(FEATURES_V1), { author: 'ana' });
      now += 60_000;
      await registry.apply(definitionsOf(`${FEATURES_V1}      - { name: visits, type: int64 }\n`), { author: 'bo' });
      now += 60_000;
      await registry.apply(definitionsOf('      - { name: loyalty_score, type: int64 }\n'), { author: 'cy' });
      const history = await registry.history('customer_stats');
      expect(history.map((h) => [h.view.version, h.author, new Date(h.appliedAtMillis).toISOString()])).toEqual([
        [1, 'ana', '2026-01-01T00:00:00.000Z'],
        [2, 'cy', '2026-01-01T00:02:00.000Z'],
      ]);
      expect(history[0]?.changes).toContain('update by bo at 2026-01-01T00:01:00.000Z');
      expect(history[1]?.changes).toContain('  feature loyalty_score: type double -> int64 (breaking)');
      await expect(registry.history('ghost')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
}
