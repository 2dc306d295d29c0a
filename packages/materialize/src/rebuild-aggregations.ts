/**
 * Rebuilding an event view's online tiles from its offline events into the next tile generation
 * (`tessera materialize --aggregations VIEW`; docs/design/window-aggregations.md §3.6, §4.4).
 *
 * The rebuild is exact under live writes (design §3.6): its first run records the rebuild (its
 * `now`, in the MaterializeState port, which every server re-reads); servers that see it fold every
 * new event into the served generation G and into the target G+1 (the delta) and answer G+1 as its
 * `online_gen`. The `barrier` then waits until no server can still fold into G alone and every
 * G-only copy is readable offline. Per key-hash part: the part's deduplicated eligible events none
 * of whose copies entered G+1 (the snapshot) stream from the offline main table in (keys, ts, fp)
 * order (`OfflineStore.eventRows`); `OnlineStore.writeRebuilt` folds each entity's snapshot into
 * what G+1 holds with the live write's own step at the rebuild's `now`, atomically, unless its `ok`
 * marker of G+1 exists (a resumed part never merges twice).
 *
 * The run is resumable from any point: its `now`, the parts done and the generation served are
 * kept in the MaterializeState port, so an interrupted rebuild resumed later folds with the same
 * `now` and ends with the same bytes as an uninterrupted one. Only when every part is done does the
 * served generation move to the target (the caller switches its reads and writes then).
 */
import {
  TesseraError,
  UNBOUNDED_WINDOW,
  compileAggregationPlan,
  effectiveEventOptions,
  encodeEventRecord,
  entityKey,
  eventRecordLayout,
  groupField,
  groupedAggregationIndexes,
  isEventView,
  onlineAggregationIndexes,
  toAggregationSpec,
  viewField,
  type AggregationPlan,
  type JoinKeyValue,
  type MaterializeState,
  type OfflineStore,
  type OnlineStore,
  type RebuiltEntity,
  type RegisteredView,
} from '@tessera/core';

/** Events read per batch from the offline store. */
export const REBUILD_BATCH_EVENTS = 20_000;
/** Entities stored per `writeRebuilt` call (one LMDB transaction / one pipeline). */
export const REBUILD_BATCH_ENTITIES = 1_000;
/** Key-hash parts of a rebuild (each resumable as a unit; progress is reported per part). */
export const DEFAULT_REBUILD_PARTS = 16;

/** The compiled aggregations a rebuild folds with (as the server's write path compiles them). */
export interface RebuildPlan {
  /** The ungrouped aggregations (possibly none: the entity's own fields still hold its dedup set). */
  readonly plan: AggregationPlan;
  /** Per group feature, its aggregations (§1.8), rebuilt per (entity, group value) into group fields. */
  readonly groups: readonly RebuildGroupPlan[];
  readonly latenessMillis: number;
  readonly retentionMillis: number;
}

/** The aggregations grouped by one feature, as the server compiles them (`groupedAggregationIndexes`). */
export interface RebuildGroupPlan {
  /** The group feature's storage index (its value in an event row's `features`). */
  readonly featureIndex: number;
  readonly plan: AggregationPlan;
}

/** Compiles an event view's aggregations for a rebuild; INVALID_ARGUMENT when it has none. */
export function rebuildPlanOf(view: RegisteredView): RebuildPlan {
  const all = isEventView(view) ? (view.aggregations ?? []) : [];
  if (all.length === 0) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `Materialize --aggregations: ${view.name}@${view.version} has no window aggregations to rebuild`,
    );
  }
  const compile = (indexes: readonly number[]) =>
    compileAggregationPlan(indexes.map((i) => toAggregationSpec(all[i]!, view.features)));
  const plan = compile(onlineAggregationIndexes(all));
  const groups = groupedAggregationIndexes(all).map(({ feature, indexes }) => ({
    featureIndex: view.features.findIndex((f) => f.name === feature),
    plan: compile(indexes),
  }));
  const latenessMillis = effectiveEventOptions(view).allowedLatenessMillis;
  // Design §3.1, one retention for the whole view (the same rule as the server's `viewAggregations`:
  // base and group fields share the entity's hash).
  const specs = [plan, ...groups.map((g) => g.plan)].flatMap((p) => p.specs);
  const unbounded = specs.some((s) => s.windowMillis === UNBOUNDED_WINDOW);
  const maxWindow = Math.max(...specs.map((s) => s.windowMillis));
  const maxHop = Math.max(...specs.map((s) => s.hopMillis));
  return { plan, groups, latenessMillis, retentionMillis: unbounded ? 0 : maxWindow + 2 * maxHop + latenessMillis };
}

/** Running counts of one part: events read, entities written, entities skipped (already `ok`). */
export interface RebuildPartProgress {
  readonly eventsRead: number;
  readonly entitiesWritten: number;
  readonly entitiesSkipped: number;
  /** (Entity, group value) group fields written (§1.8); skipped ones are not counted. */
  readonly groupFieldsWritten: number;
}

/**
 * Rebuilds one key-hash part of a view into `generation`, yielding counts after every stored batch.
 * Per entity: its own fields (the ungrouped aggregations), then per group feature and group value
 * (the event's value of the group feature) the group field's, each its own `writeRebuilt` entity
 * with its own `ok` marker, so a resumed part skips exactly what was stored.
 */
export async function* rebuildAggregationsPart(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly view: RegisteredView;
  readonly plan: RebuildPlan;
  readonly generation: number;
  readonly nowMillis: number;
  readonly part: { readonly index: number; readonly count: number };
  readonly signal?: AbortSignal;
}): AsyncGenerator<RebuildPartProgress, void, undefined> {
  const { offline, online, view, generation, nowMillis } = options;
  const { plan, groups, latenessMillis, retentionMillis } = options.plan;
  if (offline.eventRows === undefined || online.writeRebuilt === undefined) {
    throw new TesseraError(
      'UNIMPLEMENTED',
      `Materialize --aggregations ${view.name}: this deployment's ${offline.eventRows === undefined ? 'offline' : 'online'} store cannot rebuild tiles`,
    );
  }
  const writeRebuilt = online.writeRebuilt.bind(online);
  const layout = eventRecordLayout(plan);
  const groupLayouts = groups.map((g) => eventRecordLayout(g.plan));
  const field = viewField(view.id, view.version);
  let eventsRead = 0;
  let entitiesWritten = 0;
  let entitiesSkipped = 0;
  let groupFieldsWritten = 0;
  let currentKey: string | undefined;
  let records: Uint8Array[] = [];
  // Per group feature: the current entity's records per group field (insertion = first event order).
  let groupRecords = groups.map(() => new Map<string, Uint8Array[]>());
  let ready: RebuiltEntity[] = [];
  let readyGroups: RebuiltEntity[][] = groups.map(() => []);
  const finishEntity = (): void => {
    if (currentKey === undefined) return;
    const key = currentKey;
    ready.push({ key, records });
    records = [];
    groupRecords.forEach((byField, g) => {
      for (const [name, list] of byField) readyGroups[g]!.push({ key, field: name, records: list });
    });
    groupRecords = groups.map(() => new Map<string, Uint8Array[]>());
  };
  const batchOf = (batchPlan: AggregationPlan, entities: RebuiltEntity[]) => ({
    field,
    plan: batchPlan,
    generation,
    nowMillis,
    latenessMillis,
    retentionMillis,
    entities,
  });
  const store = async (): Promise<void> => {
    if (ready.length > 0) {
      const result = await writeRebuilt(batchOf(plan, ready));
      entitiesWritten += result.written;
      entitiesSkipped += result.skipped;
      ready = [];
    }
    for (let g = 0; g < groups.length; g++) {
      const entities = readyGroups[g]!;
      for (let at = 0; at < entities.length; at += REBUILD_BATCH_ENTITIES) {
        const result = await writeRebuilt(batchOf(groups[g]!.plan, entities.slice(at, at + REBUILD_BATCH_ENTITIES)));
        groupFieldsWritten += result.written;
      }
    }
    readyGroups = groups.map(() => []);
  };
  const rows = offline.eventRows(view, {
    beforeGeneration: generation,
    part: options.part,
    batchRows: REBUILD_BATCH_EVENTS,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  for await (const batch of rows) {
    for (const row of batch) {
      const key = entityKey(view.entities, row.keys);
      if (key !== currentKey) {
        finishEntity();
        currentKey = key;
      }
      records.push(encodeEventRecord(layout, row.eventTsMillis, row.fp, row.features));
      groups.forEach((group, g) => {
        // The group feature is not_null (apply-time rule, §1.8): every event has a group.
        const name = groupField(field, group.featureIndex, row.features[group.featureIndex] as JoinKeyValue);
        const byField = groupRecords[g]!;
        let list = byField.get(name);
        if (list === undefined) byField.set(name, (list = []));
        list.push(encodeEventRecord(groupLayouts[g]!, row.eventTsMillis, row.fp, row.features));
      });
    }
    eventsRead += batch.length;
    if (ready.length >= REBUILD_BATCH_ENTITIES) {
      await store();
      yield { eventsRead, entitiesWritten, entitiesSkipped, groupFieldsWritten };
    }
    if (aborted(options.signal)) return;
  }
  finishEntity();
  await store();
  yield { eventsRead, entitiesWritten, entitiesSkipped, groupFieldsWritten };
}

/** Keys of a view version's rebuild state in the MaterializeState port. */
export function rebuildStateKeys(view: RegisteredView, generation: number) {
  const label = `${view.name}@${view.version}`;
  return {
    /** The generation served (absent = 1). */
    served: `aggregations:${label}:generation`,
    /**
     * The `now` the rebuild into `generation` folds with, recorded by its first run: while it is
     * there and `generation` is not served yet, servers dual-write (design §3.6 step 1).
     */
    now: `aggregations:${label}:g${generation}:now`,
    /** How many parts of the rebuild into `generation` are done (parts run in order). */
    parts: `aggregations:${label}:g${generation}:parts`,
  };
}

/** The generation a view version's reads and writes use (1 until a rebuild completes). */
export async function servedGeneration(state: MaterializeState, view: RegisteredView): Promise<number> {
  return (await state.get(rebuildStateKeys(view, 0).served)) ?? 1;
}

/** Progress of a whole rebuild. */
export interface RebuildProgress extends RebuildPartProgress {
  readonly generation: number;
  readonly partsDone: number;
  readonly parts: number;
  /** Every part is done and the served generation is now `generation`. */
  readonly done: boolean;
}

/**
 * Rebuilds a view version's tiles into the generation after the served one, part by part, resuming
 * where an earlier run stopped, and records the switch once every part is done. `nowMillis` is used
 * only by the first run of a rebuild (a resumed one keeps the recorded `now`).
 */
export async function* rebuildViewAggregations(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly state: MaterializeState;
  readonly view: RegisteredView;
  readonly nowMillis: number;
  readonly parts?: number;
  readonly signal?: AbortSignal;
  /**
   * Resolves once no server can still fold an event of the view into the served generation alone
   * and every such copy is readable offline (design §3.6 step 2); called after the rebuild is
   * recorded, before any snapshot is read (every run: a resumed one too). Without it the rebuild
   * is exact only for a quiescent view.
   */
  readonly barrier?: (view: RegisteredView, generation: number, signal?: AbortSignal) => Promise<void>;
}): AsyncGenerator<RebuildProgress, void, undefined> {
  const { state, view } = options;
  const parts = options.parts ?? DEFAULT_REBUILD_PARTS;
  const plan = rebuildPlanOf(view);
  const generation = (await servedGeneration(state, view)) + 1;
  const keys = rebuildStateKeys(view, generation);
  let nowMillis = await state.get(keys.now);
  if (nowMillis === undefined) {
    await state.advance(keys.now, options.nowMillis);
    nowMillis = (await state.get(keys.now)) ?? options.nowMillis;
  }
  await options.barrier?.(view, generation, options.signal);
  let totals: RebuildPartProgress = { eventsRead: 0, entitiesWritten: 0, entitiesSkipped: 0, groupFieldsWritten: 0 };
  const first = (await state.get(keys.parts)) ?? 0;
  for (let index = first; index < parts; index++) {
    if (aborted(options.signal)) return;
    let last: RebuildPartProgress = { eventsRead: 0, entitiesWritten: 0, entitiesSkipped: 0, groupFieldsWritten: 0 };
    for await (const progress of rebuildAggregationsPart({
      ...options,
      plan,
      generation,
      nowMillis,
      part: { index, count: parts },
    })) {
      last = progress;
      yield { ...sum(totals, progress), generation, partsDone: index, parts, done: false };
    }
    if (aborted(options.signal)) return;
    totals = sum(totals, last);
    await state.advance(keys.parts, index + 1);
    yield { ...totals, generation, partsDone: index + 1, parts, done: false };
  }
  await state.advance(keys.served, generation);
  yield { ...totals, generation, partsDone: parts, parts, done: true };
}

function sum(a: RebuildPartProgress, b: RebuildPartProgress): RebuildPartProgress {
  return {
    eventsRead: a.eventsRead + b.eventsRead,
    entitiesWritten: a.entitiesWritten + b.entitiesWritten,
    entitiesSkipped: a.entitiesSkipped + b.entitiesSkipped,
    groupFieldsWritten: a.groupFieldsWritten + b.groupFieldsWritten,
  };
}

/** A function, not an inline test: TS would narrow `signal.aborted` across the awaits between two tests. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
