/**
 * The domain model of Tessera: definitions as users write them, and views as the registry
 * stores them (with a numeric id and a version). Plain data, no I/O.
 */

/** Every type a feature can have. `timestamp` is milliseconds since the Unix epoch, UTC. */
export const VALUE_TYPES = [
  'int64',
  'double',
  'string',
  'bool',
  'timestamp',
  'bytes',
  'float_list',
  'double_list',
  'int64_list',
  'string_list',
] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** Types a join key can have. */
export const JOIN_KEY_TYPES = ['int64', 'string'] as const;
export type JoinKeyType = (typeof JOIN_KEY_TYPES)[number];

/**
 * A feature value in memory. By type:
 * int64 → bigint; double → number; string → string; bool → boolean; timestamp → number (ms);
 * bytes → Uint8Array; float_list → Float32Array; double_list → Float64Array;
 * int64_list → BigInt64Array; string_list → string[]; no value → null.
 */
export type FeatureValue =
  | bigint
  | number
  | string
  | boolean
  | Uint8Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | readonly string[]
  | null;

/** A join key value: int64 keys are bigint, string keys are string. */
export type JoinKeyValue = bigint | string;

export interface JoinKeySpec {
  readonly name: string;
  readonly type: JoinKeyType;
}

export interface EntityDef {
  readonly name: string;
  readonly joinKeys: readonly JoinKeySpec[];
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Constraints {
  readonly notNull: boolean;
  readonly min?: number;
  readonly max?: number;
  /** For string, int64 and double features (and the elements of string/int64 lists). */
  readonly allowedValues?: readonly (string | number | bigint)[];
  /** Maximum length of a string (characters), bytes, or list. */
  readonly maxLength?: number;
  /** NaN is rejected unless allowed; ±Infinity is always rejected. */
  readonly allowNaN: boolean;
}

export interface FeatureDef {
  readonly name: string;
  readonly type: ValueType;
  /** Fixed length of a list feature (an embedding); 0 means any length. */
  readonly dimension: number;
  readonly constraints: Constraints;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface SourceDef {
  readonly kind: string;
  readonly location: string;
  readonly timestampField: string;
}

/**
 * What a view's rows are: `state` (last-writer-wins rows, the default when absent) or `events`
 * (every row is an event; the view may declare window aggregations over them). An `on_demand`
 * view stores nothing: its features are CEL expressions over other views' features and request
 * fields, evaluated at read time (docs/design/window-aggregations.md §5.2). An `sql` view's rows are
 * computed by an admin-declared SELECT over other views' tables, refreshed on a schedule (§5.1).
 */
export const VIEW_KINDS = ['state', 'events', 'on_demand', 'sql'] as const;
export type ViewKind = (typeof VIEW_KINDS)[number];

/** Functions of a window aggregation (docs/design/window-aggregations.md §1.7). */
export const AGGREGATION_FUNCTIONS = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'last',
  'last_n',
  'first_ts',
  'last_ts',
  'approx_distinct',
] as const;
export type AggregationFunction = (typeof AGGREGATION_FUNCTIONS)[number];

/** Whether an aggregation serves online (`ready`) or waits for its tiles to be rebuilt. */
export type AggregationState = 'ready' | 'backfilling';

/** Eligibility limits of an event view (§1.3); absent on a definition = the defaults. */
export interface EventOptions {
  /** Events older than acceptance time minus this are late: never aggregated. */
  readonly allowedLatenessMillis: number;
  /** Events newer than acceptance time plus this are refused from aggregates. */
  readonly futureToleranceMillis: number;
}

/** A window aggregation of an event view, as declared. */
export interface AggregationDef {
  readonly name: string;
  readonly function: AggregationFunction;
  /** A feature of the view; '' = none (count of events, first_ts, last_ts). */
  readonly input: string;
  /** 0 = unbounded. */
  readonly windowMillis: number;
  /** 0 = the default rule (§1.4); the registry always assigns it. */
  readonly hopMillis: number;
  /** last_n only; 0 otherwise. */
  readonly n: number;
  /** approx_distinct only (10…14); 0 = the default (assigned by the registry). */
  readonly precision: number;
  /** A second key (a feature of the view); '' = none. */
  readonly groupBy: string;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** An aggregation as the registry holds it: hop, precision, result type and state assigned. */
export interface RegisteredAggregation extends AggregationDef {
  /** The result type (§1.7's table). */
  readonly type: ValueType;
  /** 1 at creation; bumped when the aggregation's definition changes. */
  readonly specVersion: number;
  readonly state: AggregationState;
}

/** A value an on-demand view reads from the request (an extra column of its entity rows). */
export interface RequestFieldDef {
  readonly name: string;
  readonly type: ValueType;
}

/** The expression of one on-demand feature (the feature's name, type and tags are in `features`). */
export interface OnDemandExpression {
  /** CEL source, at most ON_DEMAND_MAX_EXPRESSION_BYTES bytes. */
  readonly expression: string;
  /** false: a null referenced input makes the result null without evaluating. */
  readonly evaluateNulls: boolean;
}

/** What makes a view on-demand: its inputs, request fields and one expression per feature. */
export interface OnDemandDef {
  /** Feature refs `view:feature` of stored views, readable in expressions as `view.feature`. */
  readonly inputs: readonly string[];
  readonly requestFields: readonly RequestFieldDef[];
  /** In the order of the view's `features`, one each. */
  readonly expressions: readonly OnDemandExpression[];
}

/**
 * What makes a view an SQL view (design §5.1): its SELECT, naming other views only through
 * placeholders `{{ view }}` / `{{ view@n }}`, and its refresh schedule.
 */
export interface SqlViewDef {
  /** The SELECT as written, placeholders and `{start:DateTime64(3)}` / `{end:DateTime64(3)}` included. */
  readonly sql: string;
  /** Refresh period: tick T refreshes `[floor(T − delay, every) − every, floor(T − delay, every))`. */
  readonly everyMillis: number;
  /** How long after an interval ends its refresh waits (late data). */
  readonly delayMillis: number;
  /**
   * The lineage, assigned by the registry: each placeholder resolved to `view@version`, in order of
   * first appearance. Empty in definitions (ignored there).
   */
  readonly reads: readonly string[];
}

export interface FeatureViewDef {
  readonly name: string;
  /** kind `sql` only: the SELECT that computes the view's rows and its schedule. */
  readonly sql?: SqlViewDef;
  /** kind `on_demand` only: entities and source are empty, features are computed. */
  readonly onDemand?: OnDemandDef;
  /** Absent = `state`. */
  readonly kind?: ViewKind;
  /** Event views only; absent = the defaults (the registry fills them in). */
  readonly events?: EventOptions;
  /** Event views only; absent = none. */
  readonly aggregations?: readonly AggregationDef[];
  /** Entity names; their join keys, in this order, identify a row. */
  readonly entities: readonly string[];
  readonly features: readonly FeatureDef[];
  /** 0 = values never expire. */
  readonly ttlSeconds: number;
  readonly owner: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly description: string;
  readonly source?: SourceDef;
}

export interface FeatureServiceDef {
  readonly name: string;
  /** Refs: `view:feature`, `view:*`, `view@2:feature`. */
  readonly features: readonly string[];
  readonly description: string;
  readonly owner: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Types of entity source parameters, written `{name:Type}` in the source's SQL. */
export const ENTITY_SOURCE_PARAM_TYPES = ['int64', 'double', 'string', 'bool', 'timestamp'] as const;
export type EntitySourceParamType = (typeof ENTITY_SOURCE_PARAM_TYPES)[number];

/** One typed parameter of an entity source. */
export interface EntitySourceParamDef {
  readonly name: string;
  readonly type: EntitySourceParamType;
  readonly description: string;
}

/**
 * An entity set declared by an admin: a named SELECT (checked by the offline SQL guard) with typed
 * parameters. Callers pass the name and parameter values; the values are bound, never spliced.
 */
export interface EntitySourceDef {
  readonly name: string;
  readonly description: string;
  readonly owner: string;
  readonly sql: string;
  readonly params: readonly EntitySourceParamDef[];
}

/** A whole feature repository, as loaded from YAML or received by Registry.Apply. */
export interface Definitions {
  readonly project: string;
  readonly entities: readonly EntityDef[];
  readonly featureViews: readonly FeatureViewDef[];
  readonly featureServices: readonly FeatureServiceDef[];
  /** Absent = none. */
  readonly entitySources?: readonly EntitySourceDef[];
}

/**
 * A feature view version as the registry holds it. The feature order is the storage order of
 * the packed row: features added compatibly are appended, never reordered.
 */
export interface RegisteredView extends FeatureViewDef {
  /** Stable numeric id of the view (all versions share it). */
  readonly id: number;
  /** 1, 2, …: a breaking change creates the next version. */
  readonly version: number;
  /** Join keys of `entities`, in order. */
  readonly joinKeys: readonly JoinKeySpec[];
  readonly createdAtMillis: number;
  readonly updatedAtMillis: number;
  /** Aggregations with their assigned fields (absent = none). */
  readonly aggregations?: readonly RegisteredAggregation[];
}
