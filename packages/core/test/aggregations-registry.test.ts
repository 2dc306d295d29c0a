/**
 * Event views and window aggregations in the registry (docs/design/window-aggregations.md §2):
 * the YAML keys, every apply-time rule named with file, path, line and rule, the assigned fields
 * (hop, precision, result type, state), versioning and History lines, and refs to aggregations.
 */
import { describe, expect, it } from 'vitest';
import {
  TesseraError,
  deserializeRegistryState,
  emptyRegistryState,
  latestView,
  parseRepository,
  planApply,
  resolveFeatureRefs,
  serializeRegistryState,
  viewHistory,
  type Definitions,
  type Problem,
  type RegistryLogRecord,
  type RegistryState,
} from '../src/index.js';

const ENTITIES = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: product, join_keys: [product_id] }
`;

/** The seeds' event views (design §2.1), without the later sections. */
const SEED = `
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
    allowed_lateness: 1h
    future_tolerance: 60s
    features:
      - { name: amount, type: double, min: 0 }
      - { name: category, type: string, not_null: true }
      - { name: product_id, type: string }
    aggregations:
      - { name: purchases_7d, function: count, window: 7d }
      - { name: purchases_30d, function: count, window: 30d }
      - { name: revenue_30d, function: sum, input: amount, window: 30d }
      - { name: avg_order_30d, function: mean, input: amount, window: 30d }
      - { name: last_purchase_at, function: last_ts, window: unbounded }
      - { name: distinct_products_30d, function: approx_distinct, input: product_id, window: 30d }
      - { name: revenue_by_category_30d, function: sum, input: amount, window: 30d, group_by: category }
  - name: reviews
    kind: events
    entities: [product]
    features: [{ name: rating, type: int64, min: 1, max: 5 }]
    aggregations:
      - { name: last_5_ratings, function: last_n, n: 5, input: rating, window: unbounded }
      - { name: avg_rating_30d, function: mean, input: rating, window: 30d }
      - { name: recent_reviews, function: count, window: 90m, hop: 15m, description: reviews lately, tags: { team: x } }
`;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function parse(views: string): { definitions?: Definitions; problems: Problem[] } {
  return parseRepository([
    { path: 'entities.yaml', text: ENTITIES },
    { path: 'features/views.yaml', text: views },
  ]);
}

function definitionsOf(views: string): Definitions {
  const { definitions, problems } = parse(views);
  expect(problems).toEqual([]);
  return definitions as Definitions;
}

/** The 1-based line of the first line of `text` containing `marker`. */
function lineOf(text: string, marker: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(marker));
  expect(index, `marker ${marker}`).toBeGreaterThanOrEqual(0);
  return index + 1;
}

/** A view file holding one purchases-like view with these extra lines (indented as view keys). */
function viewWith(lines: string, kind = 'events'): string {
  return `
feature_views:
  - name: purchases
    kind: ${kind}
    entities: [customer]
    features:
      - { name: amount, type: double, min: 0 }
      - { name: score, type: double, allow_nan: true }
      - { name: category, type: string, not_null: true }
      - { name: label, type: string }
      - { name: product_id, type: string }
      - { name: flag, type: bool }
      - { name: count_id, type: int64, not_null: true }
${lines}`;
}

describe('event views in YAML', () => {
  it('parses the seeds, assigns hops, precision, result types and state, and names them in apply output', () => {
    const defs = definitionsOf(SEED);
    const plan = planApply(emptyRegistryState(), defs, { nowMillis: 1 });
    const purchases = latestView(plan.next, 'purchases');
    expect(purchases?.kind).toBe('events');
    expect(purchases?.events).toEqual({ allowedLatenessMillis: HOUR, futureToleranceMillis: 60_000 });
    const shape = (purchases?.aggregations ?? []).map((a) => [
      a.name,
      a.hopMillis,
      a.type,
      a.precision,
      a.specVersion,
      a.state,
    ]);
    expect(shape).toEqual([
      ['purchases_7d', HOUR, 'int64', 0, 1, 'ready'],
      ['purchases_30d', DAY, 'int64', 0, 1, 'ready'],
      ['revenue_30d', DAY, 'double', 0, 1, 'ready'],
      ['avg_order_30d', DAY, 'double', 0, 1, 'ready'],
      ['last_purchase_at', 0, 'timestamp', 0, 1, 'ready'],
      ['distinct_products_30d', DAY, 'int64', 12, 1, 'ready'],
      ['revenue_by_category_30d', DAY, 'double', 0, 1, 'ready'],
    ]);
    const reviews = latestView(plan.next, 'reviews');
    // Defaults filled in by the registry when the YAML names none.
    expect(reviews?.events).toEqual({ allowedLatenessMillis: HOUR, futureToleranceMillis: 60_000 });
    expect(reviews?.aggregations?.map((a) => [a.name, a.type, a.hopMillis, a.n])).toEqual([
      ['last_5_ratings', 'int64_list', 0, 5],
      ['avg_rating_30d', 'double', DAY, 0],
      ['recent_reviews', 'int64', 15 * 60_000, 0],
    ]);
    expect(reviews?.aggregations?.[2]).toMatchObject({ description: 'reviews lately', tags: { team: 'x' } });

    const created = plan.changes.find((c) => c.name === 'purchases');
    expect(created?.details).toContain('kind: events (allowed_lateness 1h, future_tolerance 1m)');
    expect(created?.details).toContain(
      'aggregations: purchases_7d = count 7d/1h, purchases_30d = count 30d/1d, revenue_30d = sum amount 30d/1d, ' +
        'avg_order_30d = mean amount 30d/1d, last_purchase_at = last_ts unbounded, ' +
        'distinct_products_30d = approx_distinct(p12) product_id 30d/1d, ' +
        'revenue_by_category_30d = sum amount 30d/1d by category',
    );
    expect(created?.details).toContain('ttl: 0 (plain features only)');
    // A plain view keeps exactly the shape it had: nothing stored for kind, events or aggregations.
    const plain = planApply(emptyRegistryState(), definitionsOf(viewWith('', 'state')), { nowMillis: 1 });
    const stored = latestView(plain.next, 'purchases');
    expect(stored !== undefined && ('kind' in stored || 'events' in stored || 'aggregations' in stored)).toBe(false);
  });

  it('keeps aggregations through the stored registry state', () => {
    const state = planApply(emptyRegistryState(), definitionsOf(SEED), { nowMillis: 1 }).next;
    expect(deserializeRegistryState(serializeRegistryState(state))).toEqual(state);
  });

  // Each case: the extra YAML lines, the marker of the line the problem is on, the path, the rule.
  const cases: [string, string, string, string, RegExp][] = [
    [
      'aggregations on a plain view',
      '    aggregations:\n      - { name: n_7d, function: count, window: 7d }',
      'n_7d',
      'feature_views[0].aggregations',
      /^feature view purchases: aggregations need kind: events \(line \d+\)$/,
    ],
    [
      'an unknown kind',
      '',
      'kind: stream',
      'feature_views[0].kind',
      /kind "stream" is not a view kind; valid kinds: state, events/,
    ],
    [
      'lateness on a plain view',
      '    allowed_lateness: 2h',
      'allowed_lateness',
      'feature_views[0].allowed_lateness',
      /allowed_lateness and future_tolerance apply to kind: events views only/,
    ],
    [
      'a lateness above 7 days',
      '    allowed_lateness: 8d',
      'allowed_lateness',
      'feature_views[0].allowed_lateness',
      /allowed_lateness 8d must be above 0 and at most 7d/,
    ],
    [
      'a future tolerance above 1 hour',
      '    future_tolerance: 2h',
      'future_tolerance',
      'feature_views[0].future_tolerance',
      /future_tolerance 2h must be between 0 and 1h/,
    ],
    [
      'a malformed lateness',
      '    allowed_lateness: soon',
      'allowed_lateness',
      'feature_views[0].allowed_lateness',
      /allowed_lateness: malformed duration "soon"/,
    ],
    [
      'an unknown aggregation key',
      '    aggregations:\n      - { name: n_7d, function: count, windw: 7d }',
      'windw',
      'feature_views[0].aggregations[0].windw',
      /an aggregation: unknown key "windw"; did you mean window\?/,
    ],
    [
      'a missing window',
      '    aggregations:\n      - { name: n_7d, function: count }',
      'n_7d',
      'feature_views[0].aggregations[0].window',
      /missing required key "window"/,
    ],
    [
      'an unknown function',
      '    aggregations:\n      - { name: med, function: median, input: amount, window: 7d }',
      'median',
      'feature_views[0].aggregations[0].function',
      /aggregation med: function "median" is not an aggregation function; valid functions: count, sum, mean/,
    ],
    [
      'sum of a string',
      '    aggregations:\n      - { name: revenue_30d, function: sum, input: category, window: 30d }',
      'revenue_30d',
      'feature_views[0].aggregations[0].input',
      /feature view purchases, aggregation revenue_30d: sum needs an int64 or double input; category is string/,
    ],
    [
      'min of a string',
      '    aggregations:\n      - { name: first_label, function: min, input: label, window: 30d }',
      'first_label',
      'feature_views[0].aggregations[0].input',
      /min needs an int64, double or timestamp input; label is string/,
    ],
    [
      'a missing input',
      '    aggregations:\n      - { name: total, function: sum, window: 30d }',
      'total',
      'feature_views[0].aggregations[0].input',
      /sum needs an int64 or double input; add input: <feature>/,
    ],
    [
      'an input that is not a feature',
      '    aggregations:\n      - { name: total, function: sum, input: price, window: 30d }',
      'total',
      'feature_views[0].aggregations[0].input',
      /input price is not a feature of the view; its features: amount, score/,
    ],
    [
      'an input on first_ts',
      '    aggregations:\n      - { name: first_at, function: first_ts, input: amount, window: 30d }',
      'first_at',
      'feature_views[0].aggregations[0].input',
      /first_ts takes no input/,
    ],
    [
      'an input that allows NaN',
      '    aggregations:\n      - { name: score_sum, function: sum, input: score, window: 30d }',
      'score_sum',
      'feature_views[0].aggregations[0].input',
      /input score allows NaN \(allow_nan: true\); aggregated inputs must not/,
    ],
    [
      'last_n without n',
      '    aggregations:\n      - { name: last_amounts, function: last_n, input: amount, window: unbounded }',
      'last_amounts',
      'feature_views[0].aggregations[0].n',
      /last_n needs n between 1 and 100, got 0/,
    ],
    [
      'n above 100',
      '    aggregations:\n      - { name: last_amounts, function: last_n, n: 101, input: amount, window: unbounded }',
      'last_amounts',
      'feature_views[0].aggregations[0].n',
      /last_n needs n between 1 and 100, got 101/,
    ],
    [
      'n on count',
      '    aggregations:\n      - { name: n_7d, function: count, n: 3, window: 7d }',
      'n_7d',
      'feature_views[0].aggregations[0].n',
      /n applies to last_n only; remove it/,
    ],
    [
      'a precision out of range',
      '    aggregations:\n      - { name: products, function: approx_distinct, input: product_id, precision: 16, window: 7d }',
      'products',
      'feature_views[0].aggregations[0].precision',
      /precision must be between 10 and 14 \(default 12\), got 16/,
    ],
    [
      'a precision on sum',
      '    aggregations:\n      - { name: total, function: sum, input: amount, precision: 12, window: 7d }',
      'total',
      'feature_views[0].aggregations[0].precision',
      /precision applies to approx_distinct only/,
    ],
    [
      'a window that is not a multiple of its hop',
      '    aggregations:\n      - { name: n_100m, function: count, window: 100m, hop: 15m }',
      'n_100m',
      'feature_views[0].aggregations[0].window',
      /aggregation n_100m: window 100m is not a multiple of hop 15m; use 90m or 105m, or hop: 5m/,
    ],
    [
      'a window that is not a multiple of its default hop',
      '    aggregations:\n      - { name: n_12d, function: count, window: 12d1h }',
      'n_12d',
      'feature_views[0].aggregations[0].window',
      /window 289h is not a multiple of its default hop 1d; use 12d or 13d, or hop: 1h/,
    ],
    [
      'a hop that is not allowed',
      '    aggregations:\n      - { name: n_1h, function: count, window: 1h, hop: 10m }',
      'n_1h',
      'feature_views[0].aggregations[0].hop',
      /hop 10m is not an allowed hop; use one of 1m, 5m, 15m, 1h, 1d/,
    ],
    [
      'too many tiles',
      '    aggregations:\n      - { name: n_30d, function: count, window: 30d, hop: 5m }',
      'n_30d',
      'feature_views[0].aggregations[0].hop',
      /window 30d at hop 5m spans 8640 tiles, more than 2016; use hop: 1d/,
    ],
    [
      'a window above 400 days',
      '    aggregations:\n      - { name: n_long, function: count, window: 401d }',
      'n_long',
      'feature_views[0].aggregations[0].window',
      /window 401d is longer than 400d; use unbounded or a shorter window/,
    ],
    [
      'a hop on an unbounded window',
      '    aggregations:\n      - { name: n_all, function: count, window: unbounded, hop: 1d }',
      'n_all',
      'feature_views[0].aggregations[0].hop',
      /an unbounded window has no hop/,
    ],
    [
      'an empty window',
      '    aggregations:\n      - { name: n_0, function: count, window: 0 }',
      'n_0',
      'feature_views[0].aggregations[0].window',
      /window 0 is empty; give a duration such as 30d, or unbounded/,
    ],
    [
      'a malformed window',
      '    aggregations:\n      - { name: n_x, function: count, window: 30 days }',
      'n_x',
      'feature_views[0].aggregations[0].window',
      /window: malformed duration "30 days"/,
    ],
    [
      'group_by on a nullable feature',
      '    aggregations:\n      - { name: by_label, function: count, window: 7d, group_by: label }',
      'by_label',
      'feature_views[0].aggregations[0].group_by',
      /group_by needs a not_null string or int64 feature; label is string without not_null/,
    ],
    [
      'group_by on a bool',
      '    aggregations:\n      - { name: by_flag, function: count, window: 7d, group_by: flag }',
      'by_flag',
      'feature_views[0].aggregations[0].group_by',
      /group_by needs a not_null string or int64 feature; flag is bool/,
    ],
    [
      'group_by on the input',
      '    aggregations:\n      - { name: ids, function: approx_distinct, input: count_id, window: 7d, group_by: count_id }',
      'ids',
      'feature_views[0].aggregations[0].group_by',
      /group_by count_id is also the input/,
    ],
    [
      'an aggregation named like a feature',
      '    aggregations:\n      - { name: amount, function: count, window: 7d }',
      'name: amount, function',
      'feature_views[0].aggregations[0].name',
      /a feature of the view has this name; names are unique among features and aggregations/,
    ],
    [
      'a repeated aggregation name',
      '    aggregations:\n      - { name: n_7d, function: count, window: 7d }\n      - { name: n_7d, function: count, window: 1d }',
      'window: 1d',
      'feature_views[0].aggregations[1].name',
      /duplicate aggregation name "n_7d"/,
    ],
    [
      'an aggregation named like a join key',
      '    aggregations:\n      - { name: customer_id, function: count, window: 7d }',
      'name: customer_id',
      'feature_views[0].aggregations[0].name',
      /has the name of a join key of entity customer/,
    ],
    [
      'a bad aggregation name',
      '    aggregations:\n      - { name: Revenue, function: count, window: 7d }',
      'Revenue',
      'feature_views[0].aggregations[0].name',
      /aggregation name "Revenue" is not a valid identifier/,
    ],
    [
      'a fifth distinct hop',
      '    aggregations:\n' +
        ['1m', '5m', '15m', '1h', '1d']
          .map((h, i) => `      - { name: n${i}, function: count, window: 1d, hop: ${h} }`)
          .join('\n'),
      'name: n4',
      'feature_views[0].aggregations[4].hop',
      /aggregation n4 uses a 5th distinct hop \(1d\); at most 4 per view \(1m, 5m, 15m, 1h, 1d\)/,
    ],
    [
      'a ninth approx_distinct',
      '    aggregations:\n' +
        Array.from(
          { length: 9 },
          (_, i) => `      - { name: d${i}, function: approx_distinct, input: product_id, window: 1d }`,
        ).join('\n'),
      'name: d0,',
      'feature_views[0].aggregations',
      /has 9 approx_distinct aggregations; at most 8 per view/,
    ],
    [
      'a 65th aggregation',
      '    aggregations:\n' +
        Array.from({ length: 65 }, (_, i) => `      - { name: c${i}, function: count, window: 1d }`).join('\n'),
      'name: c0,',
      'feature_views[0].aggregations',
      /has 65 aggregations; at most 64 per view/,
    ],
  ];

  const KIND_OF: Readonly<Record<string, string>> = {
    'aggregations on a plain view': 'state',
    'lateness on a plain view': 'state',
    'an unknown kind': 'stream',
  };
  it.each(cases)('names file, path, line and rule for %s', (name, lines, marker, path, rule) => {
    const text = viewWith(lines, KIND_OF[name] ?? 'events');
    const { definitions, problems } = parse(text);
    expect(definitions).toBeUndefined();
    const found = problems.find((p) => p.path === path && rule.test(p.message));
    expect(found, `no ${path} ${String(rule)} in\n${JSON.stringify(problems, null, 1)}`).toBeDefined();
    expect(found?.file).toBe('features/views.yaml');
    expect(found?.message).toMatch(new RegExp(`\\(line ${lineOf(text, marker)}\\)$`));
  });
});

describe('versioning of event views', () => {
  const base = (aggregations: string, extra = ''): string => `
feature_views:
  - name: purchases
    kind: events
    entities: [customer]
${extra}    features:
      - { name: amount, type: double }
      - { name: category, type: string, not_null: true }
    aggregations:
${aggregations}`;
  const COUNT = '      - { name: n_7d, function: count, window: 7d }\n';
  const REVENUE = '      - { name: revenue_30d, function: sum, input: amount, window: 30d }\n';

  function applied(...texts: string[]): {
    state: RegistryState;
    details: string[][];
    kinds: string[];
    records: RegistryLogRecord[];
  } {
    let state = emptyRegistryState();
    const details: string[][] = [];
    const kinds: string[] = [];
    const records: RegistryLogRecord[] = [];
    texts.forEach((text, i) => {
      const plan = planApply(state, definitionsOf(text), { nowMillis: i + 1 });
      records.push({ sequence: i + 1, author: 'ana', appliedAtMillis: i + 1, changes: plan.changes });
      const change = plan.changes.find((c) => c.name === 'purchases');
      details.push([...(change?.details ?? [])]);
      kinds.push(`${change?.kind ?? '?'} ${change?.fromVersion ?? 0}->${change?.toVersion ?? 0}`);
      state = plan.next;
    });
    return { state, details, kinds, records };
  }

  // Design §2.3 makes these compatible with an online tile rebuild (increment 7); until the rebuild
  // exists a changed aggregation set needs a version of its own (its tiles and table start empty).
  it('makes a new version when aggregations are added, changed or removed; descriptions stay compatible', () => {
    const { state, details, kinds, records } = applied(
      base(COUNT),
      base(COUNT + REVENUE),
      base(COUNT + REVENUE.replace('30d }', '28d }')),
      base(COUNT + REVENUE.replace('30d }', '28d, description: money }')),
      base(COUNT),
      base(COUNT),
    );
    expect(kinds).toEqual([
      'create 0->1',
      'new_version 1->2',
      'new_version 2->3',
      'update 3->3',
      'new_version 3->4',
      'unchanged 4->4',
    ]);
    const layout = "(breaking: the version's tile layout changes)";
    expect(details[1]).toEqual([`aggregation revenue_30d: added (sum amount 30d/1d) ${layout}`]);
    expect(details[2]).toEqual([`aggregation revenue_30d: window 30d -> 28d ${layout}`]);
    expect(details[3]).toEqual(['aggregation revenue_30d: description changed']);
    expect(details[4]).toEqual([`aggregation revenue_30d: removed ${layout}`]);
    expect(state.featureViews.get('purchases')?.versions.length).toBe(4);
    expect(latestView(state, 'purchases')?.aggregations?.map((a) => [a.name, a.specVersion])).toEqual([['n_7d', 1]]);
    const history = viewHistory(state, records, 'purchases');
    expect(history.flatMap((h) => h.changes)).toContain(`  aggregation revenue_30d: window 30d -> 28d ${layout}`);
  });

  it('gives a changed aggregation a new version with every aggregation registered afresh', () => {
    const { state, details, kinds } = applied(
      base(COUNT + REVENUE),
      base(COUNT.replace('7d }', '7d, hop: 15m }') + REVENUE.replace('sum', 'mean')),
    );
    expect(kinds).toEqual(['create 0->1', 'new_version 1->2']);
    expect(details[1]).toEqual([
      "aggregation n_7d: hop 1h -> 15m (breaking: the version's tile layout changes)",
      "aggregation revenue_30d: function sum -> mean (breaking: the version's tile layout changes)",
    ]);
    expect(latestView(state, 'purchases')?.aggregations?.map((a) => [a.name, a.specVersion, a.type])).toEqual([
      ['n_7d', 1, 'int64'],
      ['revenue_30d', 1, 'double'],
    ]);
  });

  it('makes a new version when the kind, the lateness or the tolerance changes', () => {
    const plainText = `
feature_views:
  - name: purchases
    entities: [customer]
    features:
      - { name: amount, type: double }
      - { name: category, type: string, not_null: true }
`;
    const { state, details, kinds } = applied(
      base(COUNT),
      base(COUNT, '    allowed_lateness: 2h\n'),
      base(COUNT, '    allowed_lateness: 2h\n    future_tolerance: 0\n'),
      plainText,
    );
    expect(kinds).toEqual(['create 0->1', 'new_version 1->2', 'new_version 2->3', 'new_version 3->4']);
    expect(details[1]).toEqual(['allowed_lateness: 1h -> 2h (breaking)']);
    expect(details[2]).toEqual(['future_tolerance: 1m -> 0 (breaking)']);
    expect(details[3]).toEqual([
      'kind: events -> state (breaking)',
      "aggregation n_7d: removed (breaking: the version's tile layout changes)",
    ]);
    expect(latestView(state, 'purchases')?.kind).toBeUndefined();
    expect(state.featureViews.get('purchases')?.versions[2]?.events).toEqual({
      allowedLatenessMillis: 2 * HOUR,
      futureToleranceMillis: 0,
    });
  });
});

describe('refs to aggregations', () => {
  const state = planApply(
    emptyRegistryState(),
    definitionsOf(`${SEED}
feature_services:
  - { name: churn, features: ['purchases:*', 'purchases:revenue_30d'] }
`),
    { nowMillis: 1 },
  ).next;

  function thrown(fn: () => unknown): TesseraError {
    try {
      fn();
    } catch (error) {
      return error as TesseraError;
    }
    throw new Error('expected a throw');
  }

  it('reads the plain features only for view:*', () => {
    const resolved = resolveFeatureRefs(state, { refs: ['purchases:*'] });
    expect(resolved.features.map((f) => f.name)).toEqual([
      'purchases:amount',
      'purchases:category',
      'purchases:product_id',
    ]);
  });

  it('resolves an aggregation by its index in the view, directly or through a feature service', () => {
    const view = resolveFeatureRefs(state, { refs: ['purchases:amount'] }).views[0]!.view;
    const at = view.aggregations!.findIndex((a) => a.name === 'revenue_30d');
    for (const input of [{ refs: ['purchases:amount', 'purchases:revenue_30d'] }, { featureService: 'churn' }]) {
      const resolved = resolveFeatureRefs(state, input);
      const wanted = resolved.features.find((f) => f.name === 'purchases:revenue_30d')!;
      expect(wanted).toMatchObject({ featureIndex: -1, aggregationIndex: at, ref: 'purchases@1:revenue_30d' });
      expect(wanted.type).toBe(view.aggregations![at]!.type);
      expect(resolved.views[wanted.viewSlot]!.aggregationIndexes).toContain(at);
      expect(resolved.views[wanted.viewSlot]!.refs).not.toContain('purchases@1:revenue_30d');
    }
  });

  it('still says NOT_FOUND for a name that is neither', () => {
    expect(thrown(() => resolveFeatureRefs(state, { refs: ['purchases:revenue_31d'] })).code).toBe('NOT_FOUND');
  });
});
