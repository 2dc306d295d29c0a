import {
  FeatureRefCache,
  TesseraError,
  emptyRegistryState,
  findViewVersion,
  formatProblems,
  isTesseraError,
  listLatestViews,
  parseViewRef,
  planApply,
  quoteInput,
  validateDefinitions,
  viewHistory,
  type Change,
  type Definitions,
  type EntityDef,
  type FeatureRefsInput,
  type EntitySourceDef,
  type FeatureServiceDef,
  type RegisteredView,
  type RegistryLog,
  type RegistryObjectType,
  type RegistryState,
  type ResolvedFeatures,
  type ViewVersionHistory,
  stderrLogger,
  type Logger,
} from '@tessera/core';

const DEFAULT_POLL_INTERVAL_MILLIS = 1_000;
const DEFAULT_MISS_REFRESH_INTERVAL_MILLIS = 100;
const DEFAULT_MAX_APPLY_ATTEMPTS = 8;

export interface RegistryOptions {
  /** How often to check the log for applies made by other servers; 0 turns polling off. Default 1000. */
  readonly pollIntervalMillis?: number;
  /** Least time between refreshes caused by unknown names (refresh-on-miss). Default 100. */
  readonly missRefreshIntervalMillis?: number;
  /** Attempts of one apply when other servers keep appending first. Default 8. */
  readonly maxApplyAttempts?: number;
  /** Called after the cached state changed, by an apply here or elsewhere. Must not throw. */
  readonly onChange?: (state: RegistryState, previous: RegistryState) => void;
  /** Called when a background refresh fails (background work never throws). Default: logged at warn. */
  readonly onError?: (error: unknown) => void;
  /** Where failed background refreshes are logged. Default: warnings and errors as JSON on stderr. */
  readonly logger?: Logger;
  /** Clock, for tests. */
  readonly nowMillis?: () => number;
}

export interface ApplyOptions {
  /** Plan and return the changes; store nothing. */
  readonly dryRun?: boolean;
  /** Who applies, recorded in History. */
  readonly author?: string;
  /** Delete registered objects missing from the definitions. */
  readonly prune?: boolean;
  /**
   * Checks the planned state before it is stored (and on a dry run): a throw refuses the apply,
   * nothing stored. Runs again on the re-planned state when another apply won a race.
   */
  readonly check?: (next: RegistryState) => Promise<void>;
}

export interface ApplyResult {
  readonly changes: readonly Change[];
  readonly dryRun: boolean;
  /** Registry sequence after the apply (unchanged on a dry run or when nothing changed). */
  readonly sequence: number;
}

/** One registered object, as returned by Registry.get. */
export type RegistryObject =
  | { readonly objectType: 'entity'; readonly entity: EntityDef }
  | { readonly objectType: 'feature_view'; readonly featureView: RegisteredView }
  | { readonly objectType: 'feature_service'; readonly featureService: FeatureServiceDef }
  | { readonly objectType: 'entity_source'; readonly entitySource: EntitySourceDef };

export interface RegistryListing {
  readonly project: string;
  readonly sequence: number;
  readonly entities: readonly EntityDef[];
  /** Latest version of each live view. */
  readonly featureViews: readonly RegisteredView[];
  readonly featureServices: readonly FeatureServiceDef[];
  readonly entitySources: readonly EntitySourceDef[];
}

/**
 * The registry as one server sees it: a cached state read synchronously on the hot path, applies
 * appended to a shared log with optimistic concurrency, and refreshes when other servers apply
 * (polling the sequence, plus refresh-on-miss). Owns the log: close() closes it.
 */
export class Registry {
  readonly #log: RegistryLog;
  readonly #options: RegistryOptions;
  readonly #refs = new FeatureRefCache();
  #state: RegistryState;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<boolean> | undefined;
  #missRefreshing: Promise<boolean> | undefined;
  #lastMissRefreshMillis = Number.NEGATIVE_INFINITY;

  private constructor(log: RegistryLog, state: RegistryState, options: RegistryOptions) {
    this.#log = log;
    this.#state = state;
    this.#options = options;
    const interval = options.pollIntervalMillis ?? DEFAULT_POLL_INTERVAL_MILLIS;
    if (interval > 0) {
      this.#timer = setInterval(() => void this.#refreshInBackground(), interval);
      this.#timer.unref();
    }
  }

  /** Reads the log and starts polling it. */
  static async open(log: RegistryLog, options: RegistryOptions = {}): Promise<Registry> {
    const latest = await log.read();
    return new Registry(log, latest?.state ?? emptyRegistryState(), options);
  }

  /** The cached state: synchronous, for the hot path. */
  state(): RegistryState {
    return this.#state;
  }

  /**
   * Validates and applies definitions. Throws INVALID_ARGUMENT listing every problem,
   * FAILED_PRECONDITION for another project, UNAVAILABLE when other applies keep winning.
   */
  async apply(defs: Definitions, options: ApplyOptions = {}): Promise<ApplyResult> {
    const problems = validateDefinitions(defs);
    if (problems.length > 0) {
      throw new TesseraError('INVALID_ARGUMENT', `Definitions rejected:\n${formatProblems(problems)}`, {
        details: problems,
      });
    }
    const dryRun = options.dryRun ?? false;
    const attempts = this.#options.maxApplyAttempts ?? DEFAULT_MAX_APPLY_ATTEMPTS;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const current = (await this.#log.read())?.state ?? emptyRegistryState();
      this.#adopt(current);
      const nowMillis = this.#now();
      const plan = planApply(current, defs, { nowMillis, prune: options.prune ?? false });
      await options.check?.(plan.next);
      if (dryRun || !plan.changed) return { changes: plan.changes, dryRun, sequence: current.sequence };
      const appended = await this.#log.append(current.sequence, {
        sequence: plan.next.sequence,
        state: plan.next,
        author: options.author ?? '',
        appliedAtMillis: nowMillis,
        changes: plan.changes,
      });
      if (appended) {
        this.#adopt(plan.next);
        return { changes: plan.changes, dryRun, sequence: plan.next.sequence };
      }
      // Another server appended first: re-read and re-plan on its state.
    }
    throw new TesseraError('UNAVAILABLE', `Registry apply lost ${attempts} races with concurrent applies; retry`);
  }

  /** One entity, feature view (`name` or `name@version`), feature service or entity source; NOT_FOUND when absent. */
  get(objectType: RegistryObjectType, name: string): RegistryObject {
    const state = this.#state;
    switch (objectType) {
      case 'entity': {
        const entity = state.entities.get(name);
        if (entity === undefined) throw new TesseraError('NOT_FOUND', `Unknown entity ${quoteInput(name)}`);
        return { objectType, entity };
      }
      case 'feature_view': {
        const ref = parseViewRef(name);
        const featureView = findViewVersion(state, ref.view, ref.version);
        if (featureView === undefined) {
          const versions = state.featureViews.get(ref.view)?.versions.length ?? 0;
          const known = versions > 0 && ref.version > 0 ? ` (versions 1..${versions})` : '';
          throw new TesseraError('NOT_FOUND', `Unknown feature view ${quoteInput(name)}${known}`);
        }
        return { objectType, featureView };
      }
      case 'feature_service': {
        const featureService = state.featureServices.get(name);
        if (featureService === undefined)
          throw new TesseraError('NOT_FOUND', `Unknown feature service ${quoteInput(name)}`);
        return { objectType, featureService };
      }
      case 'entity_source': {
        const entitySource = state.entitySources.get(name);
        if (entitySource === undefined) {
          const known = [...state.entitySources.keys()].slice(0, 20).join(', ') || '(none)';
          throw new TesseraError(
            'NOT_FOUND',
            `Unknown entity source ${quoteInput(name)}; registered sources: ${known}`,
          );
        }
        return { objectType, entitySource };
      }
      default:
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `Unknown object type ${quoteInput(String(objectType))}; use entity, feature_view, feature_service or entity_source`,
        );
    }
  }

  /** Every entity, latest live view and feature service. */
  list(): RegistryListing {
    const state = this.#state;
    return {
      project: state.project,
      sequence: state.sequence,
      entities: [...state.entities.values()],
      featureViews: listLatestViews(state),
      featureServices: [...state.featureServices.values()],
      entitySources: [...state.entitySources.values()],
    };
  }

  /** Every version of a view (deleted views included) with author, time and change lines. */
  async history(viewName: string): Promise<ViewVersionHistory[]> {
    await this.refresh();
    const records = await this.#log.records();
    const history = viewHistory(this.#state, records, viewName);
    if (history.length === 0) throw new TesseraError('NOT_FOUND', `Unknown feature view ${quoteInput(viewName)}`);
    return history;
  }

  /** A version of a view (deleted views included), refreshing from the log once when it is not known here yet. */
  async findViewVersion(name: string, version: number): Promise<RegisteredView | undefined> {
    const found = findViewVersion(this.#state, name, version);
    if (found !== undefined) return found;
    await this.refresh();
    return findViewVersion(this.#state, name, version);
  }

  /** Resolves a request's features against the cached state (cached per distinct request). */
  resolveFeatures(input: FeatureRefsInput): ResolvedFeatures {
    return this.#refs.resolve(this.#state, input);
  }

  /**
   * resolveFeatures, and on NOT_FOUND one refresh from the log (rate-limited) and a retry: a
   * server may hear of a new view from a client before its poll does.
   */
  async resolveFeaturesWithRefresh(input: FeatureRefsInput): Promise<ResolvedFeatures> {
    try {
      return this.resolveFeatures(input);
    } catch (error) {
      if (!isTesseraError(error) || error.code !== 'NOT_FOUND' || !(await this.refreshOnMiss())) throw error;
      return this.resolveFeatures(input);
    }
  }

  /**
   * A refresh after a miss, started at most once per missRefreshIntervalMillis; true when the state
   * changed. Misses while one runs wait for it (an apply through another server makes every call
   * naming the new view miss at once), and it reads the log only after a refresh already under way
   * ends: that one may have read the sequence before the apply that caused the miss.
   */
  async refreshOnMiss(): Promise<boolean> {
    const sequence = this.#state.sequence;
    if (this.#missRefreshing === undefined) {
      const now = this.#now();
      const interval = this.#options.missRefreshIntervalMillis ?? DEFAULT_MISS_REFRESH_INTERVAL_MILLIS;
      if (now - this.#lastMissRefreshMillis < interval) return false;
      this.#lastMissRefreshMillis = now;
      const earlier = this.#refreshing?.catch(() => false);
      this.#missRefreshing = (async () => {
        await earlier;
        return this.refresh();
      })().finally(() => {
        this.#missRefreshing = undefined;
      });
    }
    await this.#missRefreshing;
    return this.#state.sequence !== sequence;
  }

  /** Re-reads the log if its sequence moved; true when the cached state changed. Concurrent calls share one read. */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Stops polling and closes the log. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refreshing?.catch(() => undefined);
    await this.#missRefreshing?.catch(() => undefined);
    await this.#log.close();
  }

  async #refreshOnce(): Promise<boolean> {
    const sequence = await this.#log.readSequence();
    if (sequence === this.#state.sequence) return false;
    const latest = await this.#log.read();
    return this.#adopt(latest?.state ?? emptyRegistryState());
  }

  async #refreshInBackground(): Promise<void> {
    try {
      await this.refresh();
    } catch (error) {
      if (this.#options.onError) this.#options.onError(error);
      else
        (this.#options.logger ?? stderrLogger()).warn(
          { err: error, component: 'registry', sequence: this.#state.sequence },
          'registry: background refresh failed; serving the cached definitions',
        );
    }
  }

  /** Swaps in a state read from the log when it differs from the cached one. */
  #adopt(state: RegistryState): boolean {
    const previous = this.#state;
    if (state === previous || state.sequence === previous.sequence) return false;
    this.#state = state;
    this.#options.onChange?.(state, previous);
    return true;
  }

  #now(): number {
    return (this.#options.nowMillis ?? Date.now)();
  }
}
