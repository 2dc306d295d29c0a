import { describe, expect, it } from 'vitest';
import { emptyRegistryState, latestView, parseRepository, planApply, type Definitions } from '@tessera/core';
import { Definitions as ProtoDefinitions, FeatureView, ViewKind } from '@tessera/proto';
import { fromProtoDefinitions, fromProtoView, toProtoDefinitions, toProtoView } from '../src/index.js';

const YAML = `
project: shop
entities:
  - { name: customer, join_keys: [{ name: customer_id, type: int64 }] }
  - { name: category, join_keys: [category] }
feature_views:
  - name: purchases
    entities: [customer]
    features: [{ name: amount, type: double }, { name: category, type: string }]
sql_views:
  - name: daily
    entities: [category]
    sql: SELECT assumeNotNull(category) AS category, toStartOfDay(event_ts) AS event_ts, sum(amount) AS revenue FROM {{ purchases }} WHERE event_ts >= {start:DateTime64(3)} AND event_ts < {end:DateTime64(3)} GROUP BY category, event_ts
    schedule: { every: 1d, delay: 1h }
    features: [{ name: revenue, type: double }]
`;

function definitions(): Definitions {
  const { definitions, problems } = parseRepository([{ path: 'repo.yaml', text: YAML }]);
  expect(problems).toEqual([]);
  return definitions!;
}

describe('SQL views on the wire (registry.proto VIEW_KIND_SQL, FeatureView.sql_source)', () => {
  it('round-trips definitions through encoded bytes; reads sent in Apply are ignored', () => {
    const defs = definitions();
    const proto = toProtoDefinitions(defs);
    proto.featureViews[1]!.sqlSource!.reads = ['forged@9'];
    const decoded = ProtoDefinitions.decode(ProtoDefinitions.encode(proto).finish());
    const wire = decoded.featureViews[1]!;
    expect(wire.kind).toBe(ViewKind.VIEW_KIND_SQL);
    expect(wire.sqlSource).toMatchObject({ everyMillis: 86_400_000n, delayMillis: 3_600_000n });
    const back = fromProtoDefinitions(decoded);
    expect(back.problems).toEqual([]);
    expect(back.definitions.featureViews[1]).toEqual(defs.featureViews[1]);
    expect(back.definitions.featureViews[1]?.sql?.reads).toEqual([]);
  });

  it('carries the registry-assigned lineage in Get/List form, and names a kind without its source', () => {
    const next = planApply(emptyRegistryState(), definitions(), { nowMillis: 5 }).next;
    const view = latestView(next, 'daily')!;
    const decoded = fromProtoView(FeatureView.decode(FeatureView.encode(toProtoView(view)).finish()));
    expect(decoded.sql).toEqual(view.sql);
    expect(decoded.sql?.reads).toEqual(['purchases@1']);
    const { problems } = fromProtoDefinitions({
      project: 'shop',
      entities: [],
      featureViews: [{ ...toProtoView(view), sqlSource: undefined }],
      featureServices: [],
      entitySources: [],
    });
    expect(problems).toEqual([
      { path: 'feature_views[0].sql_source', message: 'SQL view daily: kind VIEW_KIND_SQL needs sql_source' },
    ]);
  });
});
