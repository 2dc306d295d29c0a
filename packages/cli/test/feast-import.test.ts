import { describe, expect, it } from 'vitest';
import { translateFeastRepo, type FeastExport } from '../src/feast/feast-import.js';

const field = (name: string, dtype: string) => ({ name, dtype, description: '', tags: {} });
const source = {
  name: 'trips_file',
  class: 'FileSource',
  timestamp_field: 'ts',
  created_timestamp_column: 'created',
  field_mapping: { raw_rate: 'rate' },
  date_partition_column: '',
  path: 's3://bucket/trips.parquet',
};
const view = {
  kind: 'feature_view' as const,
  entities: ['driver'],
  entity_columns: [field('driver_id', 'Int64')],
  ttl_seconds: 7_200,
  online: true,
  offline: false,
  description: '',
  tags: {},
  owner: '',
  batch_source: source,
  stream_source: null,
  aggregations: 0,
  has_udf: false,
};
const EXPORT: FeastExport = {
  project: 'rides-prod',
  entities: [
    { name: 'driver', join_keys: ['driver_id'], value_type: 'INT64', description: '', tags: {}, owner: '' },
    { name: '__dummy', join_keys: ['__dummy_id'], value_type: 'STRING', description: '', tags: {}, owner: '' },
  ],
  data_sources: [source],
  feature_views: [
    {
      ...view,
      name: 'trips',
      features: [
        field('rate', 'Float32'),
        field('count', 'Int64'),
        field('route', 'Map'),
        field('emb', 'Array(Float32)'),
      ],
    },
    { ...view, name: 'global_stats', entities: ['__dummy'], features: [field('total', 'Int64')] },
  ],
  on_demand_feature_views: [{ name: 'rate_pct', features: [field('pct', 'Float64')] }],
  feature_services: [
    { name: 'model', features: ['trips:rate', 'global_stats:total'], description: '', tags: {}, owner: '' },
  ],
  permissions: ['readers'],
};

describe('translateFeastRepo', () => {
  const { repo, notCarried, untranslated } = translateFeastRepo(EXPORT);

  it('carries entities, typed features, the TTL and the source lineage', () => {
    expect(repo.project).toBe('rides_prod');
    expect(repo.entities).toEqual([{ name: 'driver', join_keys: [{ name: 'driver_id', type: 'int64' }] }]);
    expect(repo.feature_views).toEqual([
      {
        name: 'trips',
        entities: ['driver'],
        ttl: '7200s',
        source: { kind: 'file', location: 's3://bucket/trips.parquet', timestamp_field: 'ts' },
        features: [
          { name: 'rate', type: 'double' },
          { name: 'count', type: 'int64' },
          { name: 'emb', type: 'float_list' },
        ],
      },
    ]);
    expect(repo.feature_services).toEqual([{ name: 'model', features: ['trips:rate'] }]);
  });

  it('names every field it leaves out, and every object it cannot translate', () => {
    expect(notCarried).toEqual(
      expect.arrayContaining([
        'project: "rides-prod" written as "rides_prod"',
        'feature_views.trips.rate: Float32 is stored as double',
        'feature_views.trips.route: type Map has no Tessera type; the feature is left out',
        'feature_views.trips.source: created_timestamp_column created (Tessera records its own created time)',
        'feature_views.trips.source: field_mapping {"raw_rate":"rate"} (rename columns when writing)',
        'feature_services.model: refs to views not translated are left out: global_stats:total',
        'permissions.readers: Feast permissions are not carried; use Tessera API keys and scopes',
      ]),
    );
    expect(untranslated).toEqual([
      'feature_views.global_stats: a view without entities (Tessera keys every view by entities)',
      'on_demand_feature_views.rate_pct: on-demand transformations (Python) are not translated; 1 feature(s): pct',
    ]);
  });
});
