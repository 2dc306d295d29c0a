/**
 * The scope of an on-demand view (its inputs typed from the views they name) and the compiled
 * programs of its features: built by apply-time validation from the definitions, and by the read
 * paths from the registry state (once per state, cached).
 */
import type { FeatureViewDef, RegisteredView, ValueType } from '../model.js';
import { aggregationResultType } from '../definitions/aggregation-rules.js';
import { parseFeatureRef } from '../definitions/ref-syntax.js';
import type { RegistryState } from '../registry/state.js';
import { latestView } from '../registry/state.js';
import { compileOnDemand, type OnDemandInput, type OnDemandProgram, type OnDemandScope } from './cel.js';

/** A problem with one input (index into `inputs`). */
export interface InputProblem {
  readonly index: number;
  readonly message: string;
}

/**
 * Types the inputs of an on-demand view from the views `lookup` finds. Inputs must be plain
 * features or window aggregations of stored (state or events) views, unversioned, each listed
 * once; a grouped aggregation's group feature must be a request field of the view (same type).
 */
export function onDemandScope(
  view: FeatureViewDef,
  lookup: (name: string) => FeatureViewDef | undefined,
): { scope: OnDemandScope; problems: InputProblem[] } {
  const inputs: OnDemandInput[] = [];
  const problems: InputProblem[] = [];
  const od = view.onDemand;
  (od?.inputs ?? []).forEach((text, index) => {
    const problem = (message: string): void => {
      problems.push({ index, message: `input ${JSON.stringify(text)}: ${message}` });
    };
    let ref;
    try {
      ref = parseFeatureRef(text);
    } catch (error) {
      problem((error as Error).message);
      return;
    }
    if (ref.version !== 0) return problem('inputs name the latest version; drop the @version');
    if (ref.feature === '*') return problem('list each input feature (view:feature), not view:*');
    if (ref.view === view.name) return problem('an on-demand view cannot read itself (a cycle)');
    const source = lookup(ref.view);
    if (source === undefined) return problem(`no feature view ${ref.view}`);
    if (source.kind === 'on_demand') {
      return problem(
        `${ref.view} is an on-demand view; inputs must be features of stored views (state or events), so on-demand views never form chains or cycles`,
      );
    }
    const feature = source.features.find((f) => f.name === ref.feature);
    const aggregation = (source.aggregations ?? []).find((a) => a.name === ref.feature);
    let type: ValueType;
    if (feature !== undefined) {
      type = feature.type;
    } else if (aggregation !== undefined) {
      // A window aggregation's value online is the one at the read's t, offline at the row's time:
      // the same `now` the expression sees (§5.2), so inputs and `now` agree on both sides.
      if (aggregation.groupBy !== '') {
        // Decided in increment 10: the group value comes with each request row, so the view declares
        // it as a request field (also passed as the stored read's group column, and read from the
        // entity rows' column of that name offline).
        const groupType = source.features.find((f) => f.name === aggregation.groupBy)?.type;
        const field = (od?.requestFields ?? []).find((f) => f.name === aggregation.groupBy);
        if (field === undefined || field.type !== groupType) {
          return problem(
            `${ref.view}:${ref.feature} is grouped by ${aggregation.groupBy}; declare ${aggregation.groupBy} among request_fields as ${groupType ?? 'its type'}${field === undefined ? '' : ` (it is ${field.type})`} so each request row carries its group`,
          );
        }
      }
      const inputType =
        aggregation.input === '' ? undefined : source.features.find((f) => f.name === aggregation.input)?.type;
      type = aggregationResultType(aggregation.function, inputType);
    } else {
      const known = [...source.features, ...(source.aggregations ?? [])].map((f) => f.name).join(', ');
      return problem(`feature view ${ref.view} has no feature ${ref.feature}; its features: ${known}`);
    }
    if (inputs.some((i) => i.view === ref.view && i.feature === ref.feature)) return problem('listed twice');
    inputs.push({ view: ref.view, feature: ref.feature, type });
  });
  return { scope: { inputs, requestFields: od?.requestFields ?? [] }, problems };
}

/** A registered on-demand view compiled against a registry state. */
export interface CompiledOnDemandView {
  readonly view: RegisteredView;
  readonly scope: OnDemandScope;
  /** Canonical input refs `view:feature`, in scope order. */
  readonly inputRefs: readonly string[];
  /** One per feature of the view, in its order. */
  readonly programs: readonly OnDemandProgram[];
}

const compiledByState = new WeakMap<RegistryState, Map<RegisteredView, CompiledOnDemandView>>();

/**
 * The compiled programs of an on-demand view (cached per registry state: every read path that
 * sees the same state uses the same program objects). Throws FAILED_PRECONDITION-worthy errors as
 * plain Errors when the registry no longer types the inputs as apply did (should not happen: apply
 * checks the whole repository).
 */
export function compiledOnDemandView(state: RegistryState, view: RegisteredView): CompiledOnDemandView {
  let cache = compiledByState.get(state);
  if (cache === undefined) {
    cache = new Map();
    compiledByState.set(state, cache);
  }
  const hit = cache.get(view);
  if (hit !== undefined) return hit;
  const { scope, problems } = onDemandScope(view, (name) => latestView(state, name));
  if (problems.length > 0) throw new Error(`on-demand view ${view.name}: ${problems[0]!.message}`);
  const expressions = view.onDemand?.expressions ?? [];
  const programs = view.features.map((feature, i) => {
    const expr = expressions[i];
    if (expr === undefined) throw new Error(`on-demand view ${view.name}: feature ${feature.name} has no expression`);
    const compiled = compileOnDemand(expr.expression, feature.type, scope, expr.evaluateNulls);
    if (!compiled.ok) throw new Error(`on-demand view ${view.name}, feature ${feature.name}: ${compiled.error}`);
    return compiled.program;
  });
  const compiled: CompiledOnDemandView = {
    view,
    scope,
    inputRefs: scope.inputs.map((i) => `${i.view}:${i.feature}`),
    programs,
  };
  cache.set(view, compiled);
  return compiled;
}
