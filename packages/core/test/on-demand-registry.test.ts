/**
 * On-demand views in the registry (docs/design/window-aggregations.md §5.2, increment 8): the YAML
 * section, every apply-time problem named with file, path, line, view, feature and types, the
 * program (nulls, request fields, now, extra functions, errors), versioning, the stored state.
 */
import { describe, expect, it } from 'vitest';
import {
  compiledOnDemandView,
  deserializeRegistryState,
  emptyRegistryState,
  evaluateOnDemandColumn,
  latestView,
  parseRepository,
  planApply,
  resolveFeatureRefs,
  serializeRegistryState,
  type Definitions,
  type Problem,
} from '../src/index.js';

const BASE = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
feature_views:
  - name: profile
    entities: [customer]
    features:
      - { name: last_purchase_at, type: timestamp }
      - { name: revenue_30d, type: double }
      - { name: orders, type: int64 }
      - { name: ratings, type: int64_list }
      - { name: name, type: string }
  - name: purchases
    kind: events
    entities: [customer]
    features: [{ name: amount, type: double }, { name: category, type: string, not_null: true }]
    aggregations:
      - { name: revenue_7d, function: sum, input: amount, window: 7d }
      - { name: by_category_7d, function: sum, input: amount, window: 7d, group_by: category }
`;

const SEED = `
on_demand_views:
  - name: customer_now
    inputs: [profile:last_purchase_at, profile:revenue_30d]
    request: [{ name: cart_total, type: double }]
    features:
      - name: days_since_last_purchase
        type: double
        expr: double(now - profile.last_purchase_at) / 86400000.0
      - name: cart_share_of_30d
        type: double
        expr: 'profile.revenue_30d == 0.0 ? 0.0 : cart_total / profile.revenue_30d'
        description: share of the cart in the 30-day revenue
  - name: ratings_now
    inputs: [profile:ratings, profile:orders]
    features:
      - { name: avg_ratings, type: double, expr: 'avg(profile.ratings)' }
      - { name: orders_or_zero, type: int64, expr: 'profile.orders == null ? 0 : profile.orders', evaluate_nulls: true }
      - { name: days_of_orders, type: double, expr: 'days(profile.orders)' }
`;

function parse(text: string): { definitions?: Definitions; problems: Problem[] } {
  return parseRepository([
    { path: 'base.yaml', text: BASE },
    { path: 'features/on_demand.yaml', text },
  ]);
}

function definitionsOf(text: string): Definitions {
  const { definitions, problems } = parse(text);
  expect(problems).toEqual([]);
  return definitions as Definitions;
}

function lineOf(text: string, marker: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(marker));
  expect(index, `marker ${marker}`).toBeGreaterThanOrEqual(0);
  return index + 1;
}

/** One on-demand view with one feature, over profile. */
function single(expr: string, type = 'double', inputs = '[profile:revenue_30d, profile:orders]', extra = ''): string {
  return `
on_demand_views:
  - name: odv
    inputs: ${inputs}
${extra}    features:
      - name: f
        type: ${type}
        expr: ${JSON.stringify(expr)}
`;
}

describe('on-demand views in YAML and apply', () => {
  it('parses the section into on_demand views, registers them and keeps them through the stored state', () => {
    const plan = planApply(emptyRegistryState(), definitionsOf(SEED), { nowMillis: 1 });
    const view = latestView(plan.next, 'customer_now');
    expect(view?.kind).toBe('on_demand');
    expect(view?.entities).toEqual([]);
    expect(view?.features.map((f) => [f.name, f.type])).toEqual([
      ['days_since_last_purchase', 'double'],
      ['cart_share_of_30d', 'double'],
    ]);
    expect(view?.onDemand?.requestFields).toEqual([{ name: 'cart_total', type: 'double' }]);
    expect(plan.changes.find((c) => c.name === 'customer_now')?.details).toContain(
      'kind: on_demand (inputs profile:last_purchase_at, profile:revenue_30d; request fields cart_total double)',
    );
    expect(deserializeRegistryState(serializeRegistryState(plan.next))).toEqual(plan.next);
  });

  // Each case: the YAML, the marker of the line the problem is on, the path, the rule.
  const cases: [string, string, string, string, RegExp][] = [
    [
      'bad syntax',
      single('profile.revenue_30d +'),
      'expr:',
      'on_demand_views[0].features[0].expr',
      /on-demand view odv, feature f: Unexpected token: EOF \(at column \d+\)/,
    ],
    [
      'wrong type',
      single('profile.orders * 2'),
      'expr:',
      'on_demand_views[0].features[0].expr',
      /feature f: the expression is int, the feature is double \(CEL double\) — use double\(…\)/,
    ],
    [
      'unknown input view',
      single('1.0', 'double', '[nope:x]'),
      'inputs:',
      'on_demand_views[0].inputs[0]',
      /on-demand view odv: input "nope:x": no feature view nope/,
    ],
    [
      'unknown input feature',
      single('1.0', 'double', '[profile:nope]'),
      'inputs:',
      'on_demand_views[0].inputs[0]',
      /feature view profile has no feature nope; its features: last_purchase_at, revenue_30d/,
    ],
    [
      'undeclared variable',
      single('profile.name == "x" ? 1.0 : 0.0'),
      'expr:',
      'on_demand_views[0].features[0].expr',
      /feature f: No such key: name/,
    ],
    [
      'unknown function',
      single('median(profile.revenue_30d)'),
      'expr:',
      'on_demand_views[0].features[0].expr',
      /feature f: found no matching overload for 'median\(double\)'/,
    ],
    [
      'an aggregation input typed by its result (sum of double is double)',
      single('purchases.revenue_7d', 'int64', '[purchases:revenue_7d]'),
      'expr:',
      'on_demand_views[0].features[0].expr',
      /feature f: the expression is double, the feature is int64/,
    ],
    [
      'a grouped aggregation input',
      single('1.0', 'double', '[purchases:by_category_7d]'),
      'inputs:',
      'on_demand_views[0].inputs[0]',
      /purchases:by_category_7d is grouped by category; declare category among request_fields as string so each request row carries its group/,
    ],
    [
      'a grouped aggregation input whose group request field has another type',
      single('1.0', 'double', '[purchases:by_category_7d]', '    request: [{ name: category, type: int64 }]\n'),
      'inputs:',
      'on_demand_views[0].inputs[0]',
      /declare category among request_fields as string \(it is int64\)/,
    ],
    [
      'a cycle',
      single('1.0', 'double', '[odv:f]'),
      'inputs:',
      'on_demand_views[0].inputs[0]',
      /an on-demand view cannot read itself \(a cycle\)/,
    ],
    [
      'too long',
      single(`${'1.0 + '.repeat(400)}1.0`),
      'expr:',
      'on_demand_views[0].features[0].expr',
      /feature f: the expression is 2403 bytes; at most 2048 are allowed/,
    ],
    [
      'an unavailable type',
      single('1.0', 'float_list'),
      'type: float_list',
      'on_demand_views[0].features[0].type',
      /type "float_list" is not an on-demand type/,
    ],
    [
      'a request field named now',
      single('1.0', 'double', '[profile:orders]', '    request: [{ name: now, type: int64 }]\n'),
      'request:',
      'on_demand_views[0].request[0].name',
      /request field now has the name of the read time now/,
    ],
    [
      'a request field named like a join key',
      single('1.0', 'double', '[profile:orders]', '    request: [{ name: customer_id, type: int64 }]\n'),
      'request:',
      'on_demand_views[0].request[0].name',
      /request field customer_id has the name of a join key of its inputs; rename it/,
    ],
  ];
  for (const [name, text, marker, path, rule] of cases) {
    it(`names ${name} with file, path, line and rule`, () => {
      const { problems } = parse(text);
      const problem = problems.find((p) => p.path === path);
      expect(problem, JSON.stringify(problems)).toBeDefined();
      expect(problem?.file).toBe('features/on_demand.yaml');
      expect(problem?.message).toMatch(rule);
      expect(problem?.message).toContain(`(line ${lineOf(text, marker)})`);
    });
  }

  it('takes a grouped aggregation input when its group feature is a request field of the same type', () => {
    const yaml = single(
      'purchases.by_category_7d + 1.0',
      'double',
      '[purchases:by_category_7d]',
      '    request: [{ name: category, type: string }]\n',
    );
    const plan = planApply(emptyRegistryState(), definitionsOf(yaml), { nowMillis: 1 });
    expect(latestView(plan.next, 'odv')?.onDemand?.requestFields).toEqual([{ name: 'category', type: 'string' }]);
  });

  it('refuses a chain through another on-demand view (so no cycle can form)', () => {
    const text = `${SEED}  - name: chained\n    inputs: [customer_now:cart_share_of_30d]\n    features: [{ name: x, type: double, expr: '1.0' }]\n`;
    const { problems } = parse(text);
    expect(problems.map((p) => p.message).join('\n')).toMatch(
      /on-demand view chained: input "customer_now:cart_share_of_30d": customer_now is an on-demand view; inputs must be features of stored views/,
    );
  });
});

describe('the compiled program', () => {
  const state = planApply(emptyRegistryState(), definitionsOf(SEED), { nowMillis: 1 }).next;
  const DAY = 86_400_000;

  it('evaluates with nulls, request fields, now and the extra functions; errors give null and are counted', () => {
    const customer = compiledOnDemandView(state, latestView(state, 'customer_now')!);
    expect(compiledOnDemandView(state, latestView(state, 'customer_now')!)).toBe(customer);
    const columns = {
      rows: 3,
      inputs: [
        [0, null, 5 * DAY],
        [100, 50, 0],
      ],
      request: [[10, 20, null]],
      nowMillis: (row: number) => [3 * DAY, 4 * DAY, 7 * DAY][row]!,
    };
    expect(evaluateOnDemandColumn(customer, 0, columns)).toEqual({ values: [3, null, 2], errors: 0 });
    // Row 1: cart_total and revenue are present; last_purchase_at is null but not referenced.
    expect(evaluateOnDemandColumn(customer, 1, columns)).toEqual({ values: [0.1, 0.4, null], errors: 0 });

    const ratings = compiledOnDemandView(state, latestView(state, 'ratings_now')!);
    const rc = {
      rows: 3,
      inputs: [
        [BigInt64Array.from([1n, 2n, 4n]), new BigInt64Array(0), null],
        [3n, null, 9223372036854775807n],
      ],
      request: [],
      nowMillis: () => 0,
    };
    expect(evaluateOnDemandColumn(ratings, 0, rc)).toEqual({ values: [7 / 3, null, null], errors: 1 });
    expect(evaluateOnDemandColumn(ratings, 1, rc)).toEqual({ values: [3n, 0n, 9223372036854775807n], errors: 0 });
    expect(evaluateOnDemandColumn(ratings, 2, rc).values[0]).toBeCloseTo(3 / DAY, 15);
  });

  it('resolves refs to on-demand features like any other feature', () => {
    const resolved = resolveFeatureRefs(state, { refs: ['customer_now:*'] });
    expect(resolved.features.map((f) => f.ref)).toEqual([
      'customer_now@1:days_since_last_purchase',
      'customer_now@1:cart_share_of_30d',
    ]);
  });
});

describe('versioning of on-demand views', () => {
  it('makes a new version for an expression, input or request change, not for a description', () => {
    const v1 = planApply(emptyRegistryState(), definitionsOf(single('profile.revenue_30d')), { nowMillis: 1 }).next;
    const described = single('profile.revenue_30d').replace(
      '        type: double\n',
      '        type: double\n        description: d\n',
    );
    const compatible = planApply(v1, definitionsOf(described), { nowMillis: 2 });
    expect(compatible.changes.find((c) => c.name === 'odv')?.kind).toBe('update');
    const expr = planApply(v1, definitionsOf(single('profile.revenue_30d * 2.0')), { nowMillis: 2 });
    const change = expr.changes.find((c) => c.name === 'odv');
    expect(change?.kind).toBe('new_version');
    expect(change?.details).toContain(
      'feature f: expression "profile.revenue_30d" -> "profile.revenue_30d * 2.0" (breaking)',
    );
    const inputs = planApply(v1, definitionsOf(single('profile.revenue_30d', 'double', '[profile:revenue_30d]')), {
      nowMillis: 2,
    });
    expect(inputs.changes.find((c) => c.name === 'odv')?.details).toContain(
      'inputs: profile:revenue_30d, profile:orders -> profile:revenue_30d (breaking)',
    );
  });
});
