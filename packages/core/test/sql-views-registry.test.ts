/**
 * SQL views in the registry (docs/design/window-aggregations.md §5.1, increment 9): the YAML
 * section, apply-time problems named with file, path and line, the lineage (placeholders resolved
 * to `view@version`), versioning (SQL/reads/output breaking, schedule compatible), the refusal of a
 * prune that deletes a view an SQL view reads, cycles, and the stored state round trip.
 */
import { describe, expect, it } from 'vitest';
import {
  deserializeRegistryState,
  emptyRegistryState,
  latestView,
  parseRepository,
  planApply,
  resolveSqlViewText,
  serializeRegistryState,
  type Definitions,
  type RegistryState,
} from '../src/index.js';

const BASE = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: category, join_keys: [category] }
feature_views:
  - name: purchases
    entities: [customer]
    features:
      - { name: amount, type: double }
      - { name: category, type: string }
`;

function sqlView(sql: string, extra = ''): string {
  return `
sql_views:
  - name: category_daily_revenue
    entities: [category]
    sql: |
${sql
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}
    schedule: { every: 1h, delay: 15m }
    features: [{ name: revenue, type: double }]${extra}
`;
}

const DAILY = `SELECT category, toStartOfDay(event_ts) AS event_ts, sum(amount) AS revenue
FROM {{ purchases }}
WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)}
GROUP BY category, event_ts`;

function parse(...texts: string[]): Definitions {
  const result = parseRepository(texts.map((text, i) => ({ path: `f${i}.yaml`, text })));
  expect(result.problems).toEqual([]);
  return result.definitions as Definitions;
}

function problemsOf(...texts: string[]): string[] {
  return parseRepository(texts.map((text, i) => ({ path: `f${i}.yaml`, text }))).problems.map(
    (p) => `${p.file ?? ''} ${p.path}: ${p.message}`,
  );
}

function apply(state: RegistryState, defs: Definitions, prune = false) {
  return planApply(state, defs, { nowMillis: 1_000, prune });
}

describe('SQL views in the registry', () => {
  it('reads the sql_views section into a view of kind sql whose lineage names the versions it reads', () => {
    const plan = apply(emptyRegistryState(), parse(BASE, sqlView(DAILY)));
    const view = latestView(plan.next, 'category_daily_revenue');
    expect(view?.kind).toBe('sql');
    expect(view?.sql).toMatchObject({ everyMillis: 3_600_000, delayMillis: 900_000, reads: ['purchases@1'] });
    expect(view?.joinKeys).toEqual([{ name: 'category', type: 'string' }]);
    const created = plan.changes.find((c) => c.name === 'category_daily_revenue');
    expect(created?.details).toContain('sql reads: purchases@1');
    expect(created?.details).toContain('schedule: every 1h, delay 15m');
    const table = resolveSqlViewText(view?.sql?.sql ?? '', view?.sql?.reads ?? [], (v, n) => `db.fv_${v}__v${n}`);
    expect(table).toContain('FROM db.fv_purchases__v1');
    // The lineage survives the registry log's serialization.
    const back = deserializeRegistryState(serializeRegistryState(plan.next));
    expect(latestView(back, 'category_daily_revenue')?.sql?.reads).toEqual(['purchases@1']);
  });

  it('names the file, path, line and rule of every text problem', () => {
    const problems = problemsOf(
      BASE,
      sqlView(
        `SELECT category, event_ts, amount AS revenue FROM {{ orders }}, {{ Bad-Name }}
WHERE event_ts >= {from:DateTime64(3)} AND customer_id = {id:Int64}`,
      ),
    );
    const text = problems.join('\n');
    expect(text).toMatch(
      /f1\.yaml sql_views\[0\]\.sql: SQL view category_daily_revenue: .*placeholder \{\{ orders \}\} names an unknown feature view; defined views: .*\(line 5\)/,
    );
    expect(text).toMatch(/placeholder "\{\{ Bad-Name \}\}": name "Bad-Name" is not a valid identifier/);
    expect(text).toMatch(
      /parameter "\{from:DateTime64\(3\)\}" is not allowed: the only parameters are \{start:DateTime64\(3\)\} and \{end:DateTime64\(3\)\}/,
    );
    expect(text).toMatch(/parameter "\{id:Int64\}" is not allowed/);
    expect(text).toMatch(
      /sql does not use \{start:DateTime64\(3\)\}; filter the rows it reads to the refresh interval/,
    );
  });

  it('refuses a schedule out of bounds, list features, an SQL view reading itself and a cycle', () => {
    const badSchedule = problemsOf(BASE, sqlView(DAILY).replace('every: 1h, delay: 15m', 'every: 10s, delay: 8d'));
    expect(badSchedule.join('\n')).toMatch(/sql_views\[0\]\.schedule\.every: .*every 10s must be between 1m and 31d/);
    expect(badSchedule.join('\n')).toMatch(/sql_views\[0\]\.schedule\.delay: .*delay 8d must be between 0 and 7d/);
    const list = problemsOf(BASE, sqlView(DAILY).replace('type: double }]', 'type: double_list }]'));
    expect(list.join('\n')).toMatch(/features\[0\]\.type: .*type double_list is not supported in an SQL view/);
    const self = problemsOf(BASE, sqlView(DAILY.replace('{{ purchases }}', '{{ category_daily_revenue }}')));
    expect(self.join('\n')).toMatch(/sql reads the view itself/);
    const cycle = `
sql_views:
  - name: a_view
    entities: [category]
    sql: SELECT * FROM {{ b_view }} WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)}
    schedule: { every: 1h }
    features: [{ name: revenue, type: double }]
  - name: b_view
    entities: [category]
    sql: SELECT * FROM {{ a_view }} WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)}
    schedule: { every: 1h }
    features: [{ name: revenue, type: double }]
`;
    expect(problemsOf(BASE, cycle).join('\n')).toMatch(
      /f1\.yaml sql_views\[0\]\.sql: SQL views read each other in a cycle: a_view -> b_view -> a_view/,
    );
  });

  it('versions SQL and output changes as breaking and schedule changes as compatible; follows a breaking read', () => {
    const first = apply(emptyRegistryState(), parse(BASE, sqlView(DAILY))).next;
    const schedule = apply(first, parse(BASE, sqlView(DAILY).replace('every: 1h', 'every: 2h')));
    const sched = schedule.changes.find((c) => c.name === 'category_daily_revenue');
    expect(sched?.kind).toBe('update');
    expect(sched?.details).toEqual(['schedule: every 1h, delay 15m -> every 2h, delay 15m']);

    const text = apply(first, parse(BASE, sqlView(DAILY.replace('sum(amount)', 'max(amount)'))));
    const changed = text.changes.find((c) => c.name === 'category_daily_revenue');
    expect(changed?.kind).toBe('new_version');
    expect(changed?.details[0]).toMatch(/^sql changed \(breaking/);

    const added = apply(
      first,
      parse(
        BASE,
        sqlView(DAILY.replace('AS revenue', 'AS revenue, count() AS orders')).replace(
          '[{ name: revenue, type: double }]',
          '[{ name: revenue, type: double }, { name: orders, type: int64 }]',
        ),
      ),
    );
    const out = added.changes.find((c) => c.name === 'category_daily_revenue');
    expect(out?.kind).toBe('new_version');
    expect(out?.details).toContain('feature orders: added (a new output column of the SELECT; breaking)');

    // purchases gets version 2: the SQL view, re-applied unchanged, now reads purchases@2 (its own version 2).
    const bumped = apply(first, parse(BASE.replace('type: string }', 'type: int64 }'), sqlView(DAILY)));
    const follow = bumped.changes.find((c) => c.name === 'category_daily_revenue');
    expect(follow?.kind).toBe('new_version');
    expect(follow?.details).toContain('sql reads: purchases@1 -> purchases@2 (breaking)');
    expect(latestView(bumped.next, 'category_daily_revenue')?.sql?.reads).toEqual(['purchases@2']);

    // A pinned read keeps its version.
    const pinned = apply(
      bumped.next,
      parse(
        BASE.replace('type: string }', 'type: int64 }'),
        sqlView(DAILY.replace('{{ purchases }}', '{{ purchases@1 }}')),
      ),
    );
    expect(latestView(pinned.next, 'category_daily_revenue')?.sql?.reads).toEqual(['purchases@1']);
    expect(() => apply(first, parse(BASE, sqlView(DAILY.replace('{{ purchases }}', '{{ purchases@3 }}'))))).toThrow(
      /SQL view category_daily_revenue: placeholder "\{\{ purchases@3 \}\}": feature view purchases has versions 1\.\.1/,
    );
  });

  it('refuses a prune that deletes a view an SQL view reads, and allows deleting both together', () => {
    const first = apply(emptyRegistryState(), parse(BASE, sqlView(DAILY))).next;
    const withoutPurchases = `
project: shop
entities:
  - { name: category, join_keys: [category] }
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: other
    entities: [customer]
    features: [{ name: x, type: double }]
`;
    // Without prune, purchases is kept: nothing to refuse.
    expect(() => apply(first, parse(withoutPurchases), false)).not.toThrow();
    // With prune, both purchases and the SQL view go: allowed.
    expect(() => apply(first, parse(withoutPurchases), true)).not.toThrow();
    // With prune but the SQL view kept (it reads purchases): refused, naming both.
    const keep = `
sql_views:
  - name: category_daily_revenue
    entities: [category]
    sql: SELECT category, event_ts, x AS revenue FROM {{ other }} WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)}
    schedule: { every: 1h }
    features: [{ name: revenue, type: double }]
`;
    const renamed = apply(first, parse(withoutPurchases, keep), false);
    expect(latestView(renamed.next, 'category_daily_revenue')?.sql?.reads).toEqual(['other@1']);
    // The SQL view's old version read purchases; its latest reads other: purchases may go.
    expect(() => apply(renamed.next, parse(withoutPurchases, keep), true)).not.toThrow();
    const stale = `
project: shop
entities:
  - { name: category, join_keys: [category] }
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: unrelated
    entities: [customer]
    features: [{ name: y, type: double }]
`;
    // Not in the definitions and not pruned, the SQL view stays and keeps reading purchases@1: refused.
    expect(() =>
      planApply(
        first,
        {
          ...parse(stale),
          featureViews: [
            ...parse(stale).featureViews,
            ...parse(BASE, sqlView(DAILY)).featureViews.filter((v) => v.name === 'category_daily_revenue'),
          ],
        },
        { nowMillis: 1, prune: true },
      ),
    ).toThrow(/Cannot delete feature view purchases: SQL view category_daily_revenue@1 reads purchases@1/);
  });
});
