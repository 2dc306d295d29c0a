import { describe, expect, it } from 'vitest';
import { MAX_ENTITY_SOURCE_SQL_CHARS, validateDefinitions, type Definitions, type ValueType } from '../src/index.js';
import { definitions, feature, featureView, service } from './registry-fixtures.js';

describe('validateDefinitions', () => {
  it('accepts valid definitions', () => {
    expect(validateDefinitions(definitions())).toEqual([]);
  });

  it('refuses entity source SQL longer than the guard accepts and a duplicate source name', () => {
    const source = { name: 'src', description: '', owner: '', params: [] };
    const longest = `SELECT ${'1'.repeat(MAX_ENTITY_SOURCE_SQL_CHARS - 7)}`;
    const defs: Definitions = {
      ...definitions(),
      entitySources: [
        { ...source, sql: longest },
        { ...source, name: 'long', sql: `${longest} ` },
        { ...source, sql: 'SELECT 1' },
      ],
    };
    expect(validateDefinitions(defs).map((p) => `${p.path}: ${p.message}`)).toEqual([
      `entity_sources[1].sql: entity source long: sql is ${MAX_ENTITY_SOURCE_SQL_CHARS + 1} characters long; the limit is ${MAX_ENTITY_SOURCE_SQL_CHARS}`,
      'entity_sources[2].name: duplicate entity source name "src" (first defined at entity_sources[0])',
    ]);
  });

  it('reports every problem of structured definitions with YAML-style paths', () => {
    const base = definitions();
    const defs: Definitions = {
      ...base,
      project: '',
      featureViews: [
        ...base.featureViews,
        featureView(
          'clicks',
          ['customer', 'merchant'],
          [feature('n', 'float32' as ValueType), feature('m', 'int64', { dimension: 3 })],
          {
            ttlSeconds: -1,
          },
        ),
      ],
      featureServices: [service('svc', ['clicks:zz'])],
    };
    const problems = validateDefinitions(defs).map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual([
      expect.stringMatching(/^project: project name is empty/),
      expect.stringMatching(
        /^feature_views\[2\]\.entities\[1\]: feature view clicks: entity "merchant" is not defined/,
      ),
      expect.stringMatching(/^feature_views\[2\]\.ttl_seconds: .*must be a whole number of seconds >= 0/),
      expect.stringMatching(
        /^feature_views\[2\]\.features\[0\]\.type: feature view clicks, feature n: unknown type "float32"/,
      ),
      expect.stringMatching(/^feature_views\[2\]\.features\[1\]\.dimension: .*dimension applies only to list types/),
      expect.stringMatching(/^feature_services\[0\]\.features\[0\]: .*feature view clicks has no feature zz/),
    ]);
    expect(validateDefinitions(defs).every((p) => p.file === undefined)).toBe(true);
  });

  it('rejects views whose entities share a join key name', () => {
    const base = definitions();
    const defs: Definitions = {
      ...base,
      entities: [
        ...base.entities,
        { name: 'shopper', joinKeys: [{ name: 'customer_id', type: 'int64' }], description: '', tags: {} },
      ],
      featureViews: [featureView('v', ['customer', 'shopper'], [feature('x', 'int64')])],
      featureServices: [],
    };
    const problems = validateDefinitions(defs);
    expect(problems.map((p) => p.path)).toEqual(['feature_views[0].entities[1]']);
    expect(problems[0]?.message).toMatch(
      /join key "customer_id" of entity shopper is also a join key of entity customer/,
    );
  });

  it('accepts int64 allowed values given as safe integers (as gRPC delivers them)', () => {
    const defs = definitions({
      featureViews: [
        featureView(
          'v',
          ['customer'],
          [feature('x', 'int64', { constraints: { notNull: false, allowNaN: false, allowedValues: [1, 2n] } })],
        ),
      ],
      featureServices: [],
    });
    expect(validateDefinitions(defs)).toEqual([]);
  });
});
