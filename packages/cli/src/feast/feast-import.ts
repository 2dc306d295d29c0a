/**
 * Feast objects (as the export script prints them) → a Tessera feature repository, with a report of
 * everything that was not carried over. Nothing is dropped silently: a field without a Tessera
 * counterpart, a type Tessera lacks, an on-demand view — each is one line of the report.
 */

/** What the export script prints (feast-export-script.ts). */
export interface FeastExport {
  readonly project: string;
  readonly entities: readonly FeastEntity[];
  readonly data_sources: readonly FeastSource[];
  readonly feature_views: readonly FeastView[];
  readonly on_demand_feature_views: readonly { readonly name: string; readonly features: readonly FeastField[] }[];
  readonly feature_services: readonly FeastService[];
  readonly permissions: readonly string[];
}

interface FeastEntity {
  readonly name: string;
  readonly join_keys: readonly string[];
  readonly value_type: string;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly owner: string;
}

interface FeastSource {
  readonly name: string;
  readonly class: string;
  readonly timestamp_field: string;
  readonly created_timestamp_column: string;
  readonly field_mapping: Readonly<Record<string, string>>;
  readonly date_partition_column: string;
  readonly path?: string;
  readonly table?: string;
  readonly query?: string;
  readonly batch_source?: FeastSource;
}

interface FeastField {
  readonly name: string;
  readonly dtype: string;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
}

interface FeastView {
  readonly kind: 'feature_view' | 'stream_feature_view';
  readonly name: string;
  readonly entities: readonly string[];
  readonly entity_columns: readonly FeastField[];
  readonly features: readonly FeastField[];
  readonly ttl_seconds: number;
  readonly online: boolean;
  readonly offline: boolean;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly owner: string;
  readonly batch_source: FeastSource | null;
  readonly stream_source: FeastSource | null;
  readonly aggregations: number;
  readonly has_udf: boolean;
}

interface FeastService {
  readonly name: string;
  readonly features: readonly string[];
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly owner: string;
}

/** The repository as plain data, in the YAML layout `tessera apply` reads. */
export interface TesseraRepoDocument {
  project: string;
  entities: Record<string, unknown>[];
  feature_views: Record<string, unknown>[];
  feature_services: Record<string, unknown>[];
}

/** A translation: the repository and every Feast field it could not carry. */
export interface FeastTranslation {
  readonly repo: TesseraRepoDocument;
  /** `where: what and why`, one line per field not carried over. */
  readonly notCarried: readonly string[];
  /** Objects not translated at all (on-demand views, views without entities, …). */
  readonly untranslated: readonly string[];
}

/** Feast dtypes (str(Field.dtype)) → Tessera feature types; widening conversions are reported. */
const FEATURE_TYPES: Readonly<Record<string, { type: string; widened?: string }>> = {
  Int64: { type: 'int64' },
  Int32: { type: 'int64', widened: 'Int32 is stored as int64' },
  Float64: { type: 'double' },
  Float32: { type: 'double', widened: 'Float32 is stored as double' },
  String: { type: 'string' },
  Bool: { type: 'bool' },
  UnixTimestamp: { type: 'timestamp' },
  Bytes: { type: 'bytes' },
  'Array(Float32)': { type: 'float_list' },
  'Array(Float64)': { type: 'double_list' },
  'Array(Int64)': { type: 'int64_list' },
  'Array(Int32)': { type: 'int64_list', widened: 'Array(Int32) is stored as int64_list' },
  'Array(String)': { type: 'string_list' },
};

/** Feast entity value types → Tessera join key types. */
const JOIN_KEY_TYPES: Readonly<Record<string, string>> = { INT64: 'int64', INT32: 'int64', STRING: 'string' };

/** Translates an exported Feast repository. */
export function translateFeastRepo(feast: FeastExport): FeastTranslation {
  const notCarried: string[] = [];
  const untranslated: string[] = [];
  const note = (where: string, what: string): void => {
    notCarried.push(`${where}: ${what}`);
  };
  const project = feast.project !== '' ? feast.project.replace(/[^A-Za-z0-9_]/g, '_') : 'feast_import';
  if (project !== feast.project) note('project', `"${feast.project}" written as "${project}"`);

  const joinKeyType = new Map<string, string>();
  const entities: Record<string, unknown>[] = [];
  const entityNames = new Set<string>();
  for (const entity of feast.entities) {
    const where = `entities.${entity.name}`;
    if (entity.name === '__dummy') continue;
    let type = JOIN_KEY_TYPES[entity.value_type];
    if (type === undefined) {
      note(where, `value type ${entity.value_type} has no Tessera join key type; written as string`);
      type = 'string';
    }
    if (entity.value_type === 'INT32') note(where, 'INT32 join key written as int64');
    for (const key of entity.join_keys) joinKeyType.set(key, type);
    if (entity.owner !== '') note(where, `owner "${entity.owner}" (Tessera entities have no owner)`);
    entityNames.add(entity.name);
    entities.push({
      name: entity.name,
      ...(entity.description === '' ? {} : { description: entity.description }),
      ...tagsOf(entity.tags),
      join_keys: entity.join_keys.map((name) => ({ name, type })),
    });
  }

  const views: Record<string, unknown>[] = [];
  for (const view of feast.feature_views) {
    const where = `feature_views.${view.name}`;
    const viewEntities = view.entities.filter((e) => e !== '__dummy');
    if (viewEntities.length === 0) {
      untranslated.push(`${where}: a view without entities (Tessera keys every view by entities)`);
      continue;
    }
    const missing = viewEntities.filter((e) => !entityNames.has(e));
    if (missing.length > 0) {
      untranslated.push(`${where}: entities ${missing.join(', ')} are not defined in the repository`);
      continue;
    }
    if (view.kind === 'stream_feature_view') {
      if (view.aggregations > 0) note(where, `${view.aggregations} stream aggregations (compute them before writing)`);
      if (view.has_udf) note(where, 'the stream transformation (udf) is not carried; write its output instead');
    }
    if (!view.online) note(where, 'online: false (every Tessera view is served online)');
    if (view.offline) note(where, 'offline: true (Tessera keeps every written row offline)');
    const features: Record<string, unknown>[] = [];
    for (const field of view.features) {
      const mapped = FEATURE_TYPES[field.dtype];
      if (mapped === undefined) {
        note(`${where}.${field.name}`, `type ${field.dtype} has no Tessera type; the feature is left out`);
        continue;
      }
      if (mapped.widened !== undefined) note(`${where}.${field.name}`, mapped.widened);
      if (Object.keys(field.tags).length > 0) note(`${where}.${field.name}`, 'feature tags are not carried');
      features.push({
        name: field.name,
        type: mapped.type,
        ...(field.description === '' ? {} : { description: field.description }),
      });
    }
    for (const column of view.entity_columns) {
      const declared = joinKeyType.get(column.name);
      const mapped = FEATURE_TYPES[column.dtype]?.type;
      if (declared !== undefined && mapped !== undefined && mapped !== declared) {
        note(`${where}.${column.name}`, `join key column is ${column.dtype} here, the entity says ${declared}`);
      }
    }
    const source = translateSource(view.stream_source ?? view.batch_source, `${where}.source`, note);
    if (features.length === 0) {
      untranslated.push(`${where}: no feature has a Tessera type`);
      continue;
    }
    views.push({
      name: view.name,
      ...(view.description === '' ? {} : { description: view.description }),
      entities: viewEntities,
      ttl: view.ttl_seconds === 0 ? '0' : `${view.ttl_seconds}s`,
      ...(view.owner === '' ? {} : { owner: view.owner }),
      ...tagsOf(view.tags),
      ...(source === undefined ? {} : { source }),
      features,
    });
  }
  for (const odfv of feast.on_demand_feature_views) {
    untranslated.push(
      `on_demand_feature_views.${odfv.name}: on-demand transformations (Python) are not translated; ${odfv.features.length} feature(s): ${odfv.features.map((f) => f.name).join(', ')}`,
    );
  }

  const translatedViews = new Set(views.map((v) => v['name'] as string));
  const services: Record<string, unknown>[] = [];
  for (const service of feast.feature_services) {
    const where = `feature_services.${service.name}`;
    const kept = service.features.filter((ref) => translatedViews.has(ref.slice(0, ref.indexOf(':'))));
    const dropped = service.features.filter((ref) => !kept.includes(ref));
    if (dropped.length > 0) note(where, `refs to views not translated are left out: ${dropped.join(', ')}`);
    if (kept.length === 0) {
      untranslated.push(`${where}: none of its features is in a translated view`);
      continue;
    }
    services.push({
      name: service.name,
      ...(service.description === '' ? {} : { description: service.description }),
      ...(service.owner === '' ? {} : { owner: service.owner }),
      ...tagsOf(service.tags),
      features: kept,
    });
  }
  for (const permission of feast.permissions) {
    note(`permissions.${permission}`, 'Feast permissions are not carried; use Tessera API keys and scopes');
  }
  return { repo: { project, entities, feature_views: views, feature_services: services }, notCarried, untranslated };
}

function tagsOf(tags: Readonly<Record<string, string>>): { tags?: Record<string, string> } {
  return Object.keys(tags).length === 0 ? {} : { tags: { ...tags } };
}

/** A Feast data source as Tessera's `source` lineage (kind, location, timestamp field). */
function translateSource(
  source: FeastSource | null,
  where: string,
  note: (where: string, what: string) => void,
): Record<string, string> | undefined {
  if (source === null) return undefined;
  const kind = source.class.replace(/Source$/, '').toLowerCase() || 'source';
  const batch = source.batch_source;
  const timestampField = source.timestamp_field || batch?.timestamp_field || '';
  const location =
    source.class === 'PushSource' ? source.name : (source.path ?? source.table ?? source.query ?? source.name);
  if (source.class === 'PushSource' && batch !== undefined) {
    note(where, `the push source's batch source ${batch.name} (${batch.class}) is not carried`);
  }
  if (source.created_timestamp_column !== '') {
    note(where, `created_timestamp_column ${source.created_timestamp_column} (Tessera records its own created time)`);
  }
  if (Object.keys(source.field_mapping).length > 0) {
    note(where, `field_mapping ${JSON.stringify(source.field_mapping)} (rename columns when writing)`);
  }
  if (source.date_partition_column !== '') note(where, `date_partition_column ${source.date_partition_column}`);
  return { kind, location, ...(timestampField === '' ? {} : { timestamp_field: timestampField }) };
}
