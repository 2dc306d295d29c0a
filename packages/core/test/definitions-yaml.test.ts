import { describe, expect, it } from 'vitest';
import { parseRepository, type Problem } from '../src/index.js';

const ENTITIES = `
project: shop
entities:
  - name: customer
    join_keys: [{ name: customer_id, type: int64 }]
  - name: product
    join_keys: [product_id]
`;

const VIEWS = `
feature_views:
  - name: customer_stats
    entities: [customer]
    ttl: 30d
    owner: growth@shop.example
    tags: { team: growth }
    description: Rolling purchase behaviour per customer
    source: { kind: push, location: events.purchases, timestamp_field: event_ts }
    features:
      - { name: purchase_value_30d, type: double, min: 0 }
      - { name: loyalty_score, type: double, min: 0, max: 5, not_null: true }
      - { name: segment, type: string, allowed_values: [new, regular, vip], max_length: 16 }
      - { name: last_purchase_at, type: timestamp }
      - { name: embedding, type: float_list, dimension: 8 }
  - name: product_stats
    entities: [product]
    ttl_seconds: 3600
    features:
      - { name: price, type: double }
      - { name: tier, type: int64, allowed_values: [1, 2, 9007199254740993] }
`;

const SERVICES = `
feature_services:
  - name: checkout_model
    features: [customer_stats:*, product_stats:price]
`;

function repo(...texts: string[]): { path: string; text: string }[] {
  return texts.map((text, i) => ({ path: `file${i}.yaml`, text }));
}

/** Parses a repository that differs from the valid one by `views` and returns its problems. */
function problemsOf(views: string, services = ''): Problem[] {
  const result = parseRepository([
    { path: 'entities.yaml', text: ENTITIES },
    { path: 'views.yaml', text: views },
    { path: 'services.yaml', text: services },
  ]);
  expect(result.definitions).toBeUndefined();
  return result.problems;
}

function expectProblem(problems: readonly Problem[], file: string, path: string, message: RegExp): void {
  const match = problems.find((p) => p.file === file && p.path === path && message.test(p.message));
  expect(match, `no problem ${file} ${path} ${String(message)} in\n${JSON.stringify(problems, null, 1)}`).toBeDefined();
}

function view(features: string, extra = ''): string {
  return `
feature_views:
  - name: customer_stats
    entities: [customer]
${extra}    features:
${features}`;
}

describe('parseRepository', () => {
  it('loads a valid repository split over several files', () => {
    const result = parseRepository([
      { path: 'entities.yaml', text: ENTITIES },
      { path: 'views.yaml', text: VIEWS },
      { path: 'services.yaml', text: SERVICES },
    ]);
    expect(result.problems).toEqual([]);
    const defs = result.definitions;
    expect(defs?.project).toBe('shop');
    expect(defs?.entities.map((e) => e.name)).toEqual(['customer', 'product']);
    expect(defs?.entities[1]?.joinKeys).toEqual([{ name: 'product_id', type: 'string' }]);
    const stats = defs?.featureViews[0];
    expect(stats?.ttlSeconds).toBe(30 * 86_400);
    expect(stats?.source).toEqual({ kind: 'push', location: 'events.purchases', timestampField: 'event_ts' });
    expect(stats?.tags).toEqual({ team: 'growth' });
    expect(stats?.features[1]?.constraints).toEqual({ notNull: true, allowNaN: false, min: 0, max: 5 });
    expect(stats?.features[2]?.constraints.allowedValues).toEqual(['new', 'regular', 'vip']);
    expect(stats?.features[4]?.dimension).toBe(8);
    expect(defs?.featureViews[1]?.ttlSeconds).toBe(3600);
    // int64 allowed values keep full precision (beyond 2^53).
    expect(defs?.featureViews[1]?.features[1]?.constraints.allowedValues).toEqual([1n, 2n, 9007199254740993n]);
    expect(defs?.featureServices[0]?.features).toEqual(['customer_stats:*', 'product_stats:price']);
  });

  it('accepts an empty file and the TTL forms 90s, 15m, 12h, 1h30m and 0', () => {
    for (const [ttl, seconds] of [
      ['90s', 90],
      ['15m', 900],
      ['12h', 43_200],
      ['1h30m', 5400],
      ['0', 0],
    ] as const) {
      const result = parseRepository([
        { path: 'a.yaml', text: ENTITIES },
        { path: 'b.yaml', text: view('      - { name: x, type: int64 }', `    ttl: ${ttl}\n`) },
        { path: 'empty.yaml', text: '# nothing yet\n' },
      ]);
      expect(result.problems).toEqual([]);
      expect(result.definitions?.featureViews[0]?.ttlSeconds).toBe(seconds);
    }
  });

  it('reports YAML syntax errors with their line', () => {
    const problems = parseRepository(repo(ENTITIES, 'feature_views:\n  - name: [broken\n    entities: x\n')).problems;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.file).toBe('file1.yaml');
    expect(problems[0]?.path).toMatch(/^line \d+, column \d+$/);
    expect(problems[0]?.message).toMatch(/YAML syntax error/);
  });

  it('reports an unknown key with a suggestion and the line', () => {
    const problems = problemsOf(view('      - { name: x, type: int64, alowed_values: [1] }'));
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[0].alowed_values',
      /unknown key "alowed_values"; did you mean allowed_values\? \(line 6\)/,
    );
  });

  it('reports an unknown top-level key', () => {
    const problems = problemsOf('features_views: []\n');
    expectProblem(problems, 'views.yaml', 'features_views', /unknown key.*did you mean feature_views/);
  });

  it('reports a value of the wrong type', () => {
    const problems = problemsOf(view('      - { name: x, type: double, min: low }'));
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[0].min', /min must be a number, got text "low"/);
  });

  it('reports an unknown value type with the valid ones and a hint', () => {
    const problems = problemsOf(view('      - { name: a, type: double }\n      - { name: score, type: float32 }'));
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[1].type',
      /feature view customer_stats, feature score: unknown type "float32" \(did you mean double\?\); valid types: int64, double, .*string_list \(line 7\)/,
    );
  });

  it('reports missing required keys', () => {
    const problems = problemsOf(view('      - { name: x }'));
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[0].type', /missing required key "type"/);
  });

  it('reports duplicate names across files, naming where the first one is', () => {
    const problems = parseRepository([
      { path: 'entities.yaml', text: ENTITIES },
      { path: 'a.yaml', text: view('      - { name: x, type: int64 }') },
      { path: 'b.yaml', text: view('      - { name: x, type: int64 }\n      - { name: x, type: double }') },
    ]).problems;
    expectProblem(
      problems,
      'b.yaml',
      'feature_views[0].name',
      /duplicate feature view name "customer_stats" \(first defined at a\.yaml feature_views\[0\] \(line 3\)\)/,
    );
    expectProblem(problems, 'b.yaml', 'feature_views[0].features[1].name', /duplicate feature name "x"/);
  });

  it('reports duplicate entities and join keys', () => {
    const problems = parseRepository(repo(ENTITIES, 'entities:\n  - { name: customer, join_keys: [a, a] }\n')).problems;
    expectProblem(problems, 'file1.yaml', 'entities[0].name', /duplicate entity name "customer"/);
    expectProblem(problems, 'file1.yaml', 'entities[0].join_keys[1].name', /duplicate join key "a"/);
  });

  it('reports an entity referenced by a view but not defined', () => {
    const problems = problemsOf(view('      - { name: x, type: int64 }').replace('[customer]', '[custmer]'));
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].entities[0]',
      /entity "custmer" is not defined; defined entities: customer, product/,
    );
  });

  it('reports a join key type other than int64 or string', () => {
    const problems = parseRepository(
      repo('project: p\nentities:\n  - { name: e, join_keys: [{ name: k, type: double }] }\n'),
    ).problems;
    expectProblem(
      problems,
      'file0.yaml',
      'entities[0].join_keys[0].type',
      /type "double" is not a join key type; valid join key types: int64, string/,
    );
  });

  it('reports min greater than max', () => {
    const problems = problemsOf(view('      - { name: x, type: double, min: 5, max: 1 }'));
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[0].min', /min 5 is greater than max 1/);
  });

  it('reports allowed values of the wrong type', () => {
    const problems = problemsOf(view('      - { name: x, type: int64, allowed_values: [1, two, 3.5] }'));
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[0].allowed_values[1]',
      /allowed value "two" is not an int64/,
    );
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[0].allowed_values[2]',
      /allowed value 3.5 is not an int64/,
    );
  });

  it('reports constraints on types they do not apply to', () => {
    const problems = problemsOf(
      view(
        [
          '      - { name: a, type: double, dimension: 8 }',
          '      - { name: b, type: string, min: 1 }',
          '      - { name: c, type: bool, allowed_values: [true] }',
          '      - { name: d, type: int64, allow_nan: true }',
          '      - { name: e, type: double, max_length: 3 }',
        ].join('\n'),
      ),
    );
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[0].dimension',
      /dimension applies only to list types/,
    );
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[1].min', /min applies only to int64, double/);
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[2].allowed_values[0]',
      /must be a string or a number/,
    );
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[3].allow_nan', /allow_nan applies only to double/);
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[4].max_length', /max_length applies only to/);
  });

  it('reports a malformed TTL', () => {
    for (const ttl of ['30 days', '90', '-1d', '1.5h']) {
      const problems = problemsOf(view('      - { name: x, type: int64 }', `    ttl: ${ttl}\n`));
      expectProblem(problems, 'views.yaml', 'feature_views[0].ttl', /malformed TTL/);
    }
    const both = problemsOf(view('      - { name: x, type: int64 }', '    ttl: 1d\n    ttl_seconds: 86400\n'));
    expectProblem(both, 'views.yaml', 'feature_views[0].ttl', /either ttl or ttl_seconds, not both/);
    const negative = problemsOf(view('      - { name: x, type: int64 }', '    ttl_seconds: -5\n'));
    expectProblem(negative, 'views.yaml', 'feature_views[0].ttl_seconds', /ttl_seconds -5 must be a whole number/);
  });

  it('reports feature service refs to unknown views and features, and malformed refs', () => {
    const services = `
feature_services:
  - name: checkout_model
    features: [customer_stats:nope, ghost_view:*, "not a ref", product_stats:price, product_stats:*]
`;
    const problems = problemsOf(VIEWS, services);
    const file = 'services.yaml';
    expectProblem(
      problems,
      file,
      'feature_services[0].features[0]',
      /feature view customer_stats has no feature nope; its features: purchase_value_30d/,
    );
    expectProblem(
      problems,
      file,
      'feature_services[0].features[1]',
      /unknown feature view "ghost_view"; defined views: customer_stats, product_stats/,
    );
    expectProblem(problems, file, 'feature_services[0].features[2]', /Malformed feature ref "not a ref"/);
    expectProblem(
      problems,
      file,
      'feature_services[0].features[4]',
      /repeats feature product_stats:price, already included by "product_stats:price"/,
    );
  });

  it('reports invalid and reserved names', () => {
    const problems = problemsOf(
      view(
        '      - { name: Score, type: int64 }\n      - { name: event_ts, type: timestamp }\n      - { name: customer_id, type: int64 }',
      ).replace('name: customer_stats', 'name: 1stats'),
    );
    expectProblem(problems, 'views.yaml', 'feature_views[0].name', /name "1stats" is not a valid identifier/);
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[0].name',
      /name "Score" is not a valid identifier/,
    );
    expectProblem(problems, 'views.yaml', 'feature_views[0].features[1].name', /name "event_ts" is reserved/);
    expectProblem(
      problems,
      'views.yaml',
      'feature_views[0].features[2].name',
      /has the name of a join key of entity customer/,
    );
  });

  it('requires the project to be named exactly once', () => {
    const none = parseRepository(repo(VIEWS.replace('feature_views:', 'entities: []\nfeature_views:'))).problems;
    expect(none.some((p) => p.path === 'project' && /no file names the project/.test(p.message))).toBe(true);
    const twice = parseRepository(repo(ENTITIES, `project: other\n${VIEWS}`)).problems;
    expectProblem(twice, 'file1.yaml', 'project', /already named in file0\.yaml/);
    const invalid = parseRepository(repo(ENTITIES.replace('project: shop', 'project: My Shop'))).problems;
    expectProblem(invalid, 'file0.yaml', 'project', /"My Shop" is not a valid identifier.*\(line 2\)$/);
  });

  it('reports every problem of every file at once, each once', () => {
    const problems = parseRepository([
      { path: 'entities.yaml', text: ENTITIES.replace('type: int64', 'type: float') },
      { path: 'views.yaml', text: view('      - { name: x, type: float32, min: 3, max: 1 }', '    ttl: soon\n') },
      { path: 'services.yaml', text: 'feature_services:\n  - { name: s, features: [customer_stats:y] }\n' },
    ]).problems;
    expect(new Set(problems.map((p) => p.file))).toEqual(new Set(['entities.yaml', 'views.yaml', 'services.yaml']));
    expect(problems.length).toBeGreaterThanOrEqual(4);
    const keys = problems.map((p) => `${p.file ?? ''} ${p.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
