/**
 * Apply-time rules of event views and their window aggregations (docs/design/window-aggregations.md
 * §2.2). Paths use the YAML spelling (`feature_views[0].aggregations[2].window`) so the YAML loader
 * can add the file and line.
 */
import type { Problem } from '../errors.js';
import {
  AGGREGATION_FUNCTIONS,
  VIEW_KINDS,
  type AggregationDef,
  type Definitions,
  type FeatureViewDef,
} from '../model.js';
import {
  ALLOWED_HOPS_MILLIS,
  MAX_AGGREGATIONS_PER_VIEW,
  MAX_ALLOWED_LATENESS_MILLIS,
  MAX_APPROX_DISTINCT_PER_VIEW,
  MAX_DISTINCT_HOPS_PER_VIEW,
  MAX_FUTURE_TOLERANCE_MILLIS,
  MAX_HLL_PRECISION,
  MAX_LAST_N,
  MAX_TILES_PER_WINDOW,
  MAX_WINDOW_MILLIS,
  MIN_HLL_PRECISION,
  defaultHopMillis,
  effectiveEventOptions,
  effectiveHopMillis,
  formatWindow,
  inputRule,
} from './aggregation-rules.js';
import { columnNameProblem } from './names.js';
import { validateStrings, type AddProblem } from './validate-feature.js';

/**
 * Checks `kind`, `allowed_lateness`, `future_tolerance` and `aggregations` of one view.
 * `keyOwner` maps the view's join key names to their entity (an aggregation may not take one).
 */
export function validateEventView(
  view: FeatureViewDef,
  path: string,
  keyOwner: ReadonlyMap<string, string>,
  add: AddProblem,
): void {
  const what = `feature view ${view.name}`;
  const kind = view.kind ?? 'state';
  if (!(VIEW_KINDS as readonly string[]).includes(kind)) {
    add(
      `${path}.kind`,
      `${what}: kind ${JSON.stringify(kind)} is not a view kind; valid kinds: ${VIEW_KINDS.join(', ')}`,
    );
    return;
  }
  const aggregations = view.aggregations ?? [];
  if (kind !== 'events') {
    if (aggregations.length > 0) add(`${path}.aggregations`, `${what}: aggregations need kind: events`);
    if (view.events !== undefined) {
      add(
        `${path}.allowed_lateness`,
        `${what}: allowed_lateness and future_tolerance apply to kind: events views only`,
      );
    }
    return;
  }
  if (view.events !== undefined) {
    const { allowedLatenessMillis: lateness, futureToleranceMillis: tolerance } = view.events;
    if (!Number.isSafeInteger(lateness) || lateness <= 0 || lateness > MAX_ALLOWED_LATENESS_MILLIS) {
      add(
        `${path}.allowed_lateness`,
        `${what}: allowed_lateness ${formatMillis(lateness)} must be above 0 and at most ${formatWindow(MAX_ALLOWED_LATENESS_MILLIS)}`,
      );
    }
    if (!Number.isSafeInteger(tolerance) || tolerance < 0 || tolerance > MAX_FUTURE_TOLERANCE_MILLIS) {
      add(
        `${path}.future_tolerance`,
        `${what}: future_tolerance ${formatMillis(tolerance)} must be between 0 and ${formatWindow(MAX_FUTURE_TOLERANCE_MILLIS)}`,
      );
    }
  }

  if (aggregations.length > MAX_AGGREGATIONS_PER_VIEW) {
    add(
      `${path}.aggregations`,
      `${what} has ${aggregations.length} aggregations; at most ${MAX_AGGREGATIONS_PER_VIEW} per view`,
    );
  }
  const distinctCount = aggregations.filter((a) => a.function === 'approx_distinct').length;
  if (distinctCount > MAX_APPROX_DISTINCT_PER_VIEW) {
    add(
      `${path}.aggregations`,
      `${what} has ${distinctCount} approx_distinct aggregations; at most ${MAX_APPROX_DISTINCT_PER_VIEW} per view`,
    );
  }
  const hops = new Set<number>();
  aggregations.forEach((agg, k) => {
    const aggPath = `${path}.aggregations[${k}]`;
    let found = 0;
    validateAggregation(view, agg, k, aggPath, keyOwner, (p, m) => {
      found++;
      add(p, m);
    });
    const hop = effectiveHopMillis(agg);
    if (found === 0 && hop !== 0 && !hops.has(hop)) {
      hops.add(hop);
      if (hops.size === MAX_DISTINCT_HOPS_PER_VIEW + 1) {
        add(
          `${aggPath}.hop`,
          `${what}: aggregation ${agg.name} uses a ${MAX_DISTINCT_HOPS_PER_VIEW + 1}th distinct hop (${formatWindow(hop)}); at most ${MAX_DISTINCT_HOPS_PER_VIEW} per view (${[...hops].map(formatWindow).join(', ')})`,
        );
      }
    }
  });
}

function validateAggregation(
  view: FeatureViewDef,
  agg: AggregationDef,
  index: number,
  path: string,
  keyOwner: ReadonlyMap<string, string>,
  add: AddProblem,
): void {
  const nameProblem = columnNameProblem(agg.name);
  const what = `feature view ${view.name}, aggregation ${agg.name}`;
  if (nameProblem !== undefined) add(`${path}.name`, `feature view ${view.name}: aggregation ${nameProblem}`);
  if (view.features.some((f) => f.name === agg.name)) {
    add(
      `${path}.name`,
      `${what}: a feature of the view has this name; names are unique among features and aggregations`,
    );
  } else if ((view.aggregations ?? []).findIndex((a) => a.name === agg.name) !== index) {
    add(`${path}.name`, `feature view ${view.name}: duplicate aggregation name "${agg.name}"`);
  }
  const owner = keyOwner.get(agg.name);
  if (owner !== undefined) {
    add(`${path}.name`, `${what}: has the name of a join key of entity ${owner}; rename the aggregation`);
  }
  validateStrings(agg.description, agg.tags, path, what, add);

  if (!(AGGREGATION_FUNCTIONS as readonly string[]).includes(agg.function)) {
    add(
      `${path}.function`,
      `${what}: function ${JSON.stringify(agg.function)} is not an aggregation function; valid functions: ${AGGREGATION_FUNCTIONS.join(', ')}`,
    );
    return;
  }
  const fn = agg.function;
  const rule = inputRule(fn);
  const input = agg.input === '' ? undefined : view.features.find((f) => f.name === agg.input);
  if (agg.input === '' && rule.presence === 'required') {
    add(`${path}.input`, `${what}: ${fn} needs ${rule.described}; add input: <feature>`);
  } else if (agg.input !== '' && rule.presence === 'none') {
    add(`${path}.input`, `${what}: ${fn} takes no input (it reads the event times); remove input`);
  } else if (agg.input !== '' && input === undefined) {
    const known = view.features.map((f) => f.name).join(', ');
    add(`${path}.input`, `${what}: input ${agg.input} is not a feature of the view; its features: ${known}`);
  } else if (input !== undefined) {
    if (rule.types.length > 0 && !rule.types.includes(input.type)) {
      add(`${path}.input`, `${what}: ${fn} needs ${rule.described}; ${input.name} is ${input.type}`);
    }
    if (input.constraints.allowNaN) {
      add(
        `${path}.input`,
        `${what}: input ${input.name} allows NaN (allow_nan: true); aggregated inputs must not (NaN has no order and no sum)`,
      );
    }
  }

  if (fn === 'last_n') {
    if (!Number.isInteger(agg.n) || agg.n < 1 || agg.n > MAX_LAST_N) {
      add(`${path}.n`, `${what}: last_n needs n between 1 and ${MAX_LAST_N}, got ${agg.n}`);
    }
  } else if (agg.n !== 0) {
    add(`${path}.n`, `${what}: n applies to last_n only; remove it`);
  }
  if (fn === 'approx_distinct') {
    const p = agg.precision;
    if (p !== 0 && (!Number.isInteger(p) || p < MIN_HLL_PRECISION || p > MAX_HLL_PRECISION)) {
      add(
        `${path}.precision`,
        `${what}: precision must be between ${MIN_HLL_PRECISION} and ${MAX_HLL_PRECISION} (default 12), got ${p}`,
      );
    }
  } else if (agg.precision !== 0) {
    add(`${path}.precision`, `${what}: precision applies to approx_distinct only; remove it`);
  }

  const windowProblem = windowAndHopProblem(agg.windowMillis, agg.hopMillis);
  if (windowProblem !== undefined) add(`${path}.${windowProblem.key}`, `${what}: ${windowProblem.message}`);

  if (agg.groupBy !== '') {
    const group = view.features.find((f) => f.name === agg.groupBy);
    if (group === undefined) {
      const known = view.features.map((f) => f.name).join(', ');
      add(`${path}.group_by`, `${what}: group_by ${agg.groupBy} is not a feature of the view; its features: ${known}`);
    } else if ((group.type !== 'string' && group.type !== 'int64') || !group.constraints.notNull) {
      add(
        `${path}.group_by`,
        `${what}: group_by needs a not_null string or int64 feature; ${group.name} is ${group.type}${group.constraints.notNull ? '' : ' without not_null'}`,
      );
    } else if (agg.groupBy === agg.input) {
      add(`${path}.group_by`, `${what}: group_by ${agg.groupBy} is also the input; group by another feature`);
    }
  }
}

/** What is wrong with a window and its hop (0 = default), naming the valid neighbours. */
export function windowAndHopProblem(
  windowMillis: number,
  hopMillis: number,
): { key: 'window' | 'hop'; message: string } | undefined {
  if (hopMillis !== 0 && !ALLOWED_HOPS_MILLIS.includes(hopMillis)) {
    return {
      key: 'hop',
      message: `hop ${formatMillis(hopMillis)} is not an allowed hop; use one of ${ALLOWED_HOPS_MILLIS.map(formatWindow).join(', ')}`,
    };
  }
  if (windowMillis === 0) {
    return hopMillis === 0
      ? undefined
      : { key: 'hop', message: 'an unbounded window has no hop (it keeps one lifetime value); remove hop' };
  }
  if (!Number.isSafeInteger(windowMillis) || windowMillis < 0) {
    return { key: 'window', message: `window ${formatMillis(windowMillis)} must be a positive duration or unbounded` };
  }
  if (windowMillis > MAX_WINDOW_MILLIS) {
    return {
      key: 'window',
      message: `window ${formatWindow(windowMillis)} is longer than ${formatWindow(MAX_WINDOW_MILLIS)}; use unbounded or a shorter window`,
    };
  }
  const hop = hopMillis !== 0 ? hopMillis : defaultHopMillis(windowMillis);
  const hopText = hopMillis !== 0 ? `hop ${formatWindow(hop)}` : `its default hop ${formatWindow(hop)}`;
  if (windowMillis % hop !== 0) {
    const lower = Math.floor(windowMillis / hop) * hop;
    const upper = lower + hop;
    const windows = [...(lower > 0 ? [lower] : []), upper].map(formatWindow).join(' or ');
    const other = hopThatFits(windowMillis);
    return {
      key: 'window',
      message: `window ${formatWindow(windowMillis)} is not a multiple of ${hopText}; use ${windows}${other === undefined ? '' : `, or hop: ${formatWindow(other)}`}`,
    };
  }
  const tiles = windowMillis / hop;
  if (tiles > MAX_TILES_PER_WINDOW) {
    const other = hopThatFits(windowMillis);
    return {
      key: hopMillis !== 0 ? 'hop' : 'window',
      message: `window ${formatWindow(windowMillis)} at ${hopText} spans ${tiles} tiles, more than ${MAX_TILES_PER_WINDOW}${other === undefined ? '' : `; use hop: ${formatWindow(other)}`}`,
    };
  }
  return undefined;
}

/** The coarsest allowed hop that divides the window within the tile limit, if any. */
function hopThatFits(windowMillis: number): number | undefined {
  return [...ALLOWED_HOPS_MILLIS]
    .reverse()
    .find((h) => windowMillis % h === 0 && windowMillis / h <= MAX_TILES_PER_WINDOW);
}

function formatMillis(millis: number): string {
  return Number.isSafeInteger(millis) && millis > 0 ? formatWindow(millis) : `${String(millis)} ms`;
}

/**
 * Event views whose future tolerance exceeds the server's `maxEventTimeSkewMillis` (design §2.2): a
 * Write that far ahead is refused whole before eligibility is decided, so the tolerance would
 * promise what the server cannot keep. Checked by the server at apply (the limit is its config).
 */
export function futureToleranceProblems(defs: Definitions, maxEventTimeSkewMillis: number): Problem[] {
  const problems: Problem[] = [];
  defs.featureViews.forEach((view, i) => {
    if (view.kind !== 'events') return;
    const tolerance = effectiveEventOptions(view).futureToleranceMillis;
    if (tolerance > maxEventTimeSkewMillis) {
      problems.push({
        path: `feature_views[${i}].future_tolerance`,
        message: `feature view ${view.name}: future_tolerance ${formatWindow(tolerance)} is above this server's maxEventTimeSkewMillis (${maxEventTimeSkewMillis} ms), which refuses such writes first; lower it to at most that`,
      });
    }
  });
  return problems;
}
