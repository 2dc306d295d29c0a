/**
 * Apply-time rules of on-demand views (docs/design/window-aggregations.md §5.2): names, inputs
 * (features of stored views, resolved against the same definitions), request fields, and each
 * feature's expression parsed and type-checked against them; the checked type must be the declared
 * one. Messages name the view, the feature, the position in the expression and the types.
 */
import type { EntityDef, FeatureViewDef } from '../model.js';
import { VALUE_TYPES } from '../model.js';
import { ON_DEMAND_TYPES, compileOnDemand } from '../on-demand/cel.js';
import { onDemandScope } from '../on-demand/scope.js';
import { columnNameProblem, identifierProblem } from './names.js';
import { validateStrings, type AddProblem } from './validate-feature.js';

/** Names an expression sees besides inputs and request fields. */
const RESERVED = new Set(['now']);

export function validateOnDemandView(
  view: FeatureViewDef,
  path: string,
  views: ReadonlyMap<string, FeatureViewDef>,
  entities: ReadonlyMap<string, EntityDef>,
  add: AddProblem,
): void {
  const nameProblem = identifierProblem(view.name);
  if (nameProblem !== undefined) add(`${path}.name`, `on-demand view ${nameProblem}`);
  const what = `on-demand view ${view.name}`;
  const od = view.onDemand;
  if (od === undefined) {
    add(path, `${what}: kind on_demand needs inputs and expressions; declare it under on_demand_views`);
    return;
  }
  if (view.entities.length > 0 || view.source !== undefined || (view.aggregations ?? []).length > 0) {
    add(path, `${what}: an on-demand view has no entities, source or aggregations (its inputs bring the entities)`);
  }
  validateStrings(view.description, view.tags, path, what, add);
  if (od.inputs.length === 0) add(`${path}.inputs`, `${what} has no inputs; list features such as purchases:amount`);
  const { scope, problems } = onDemandScope(view, (name) => views.get(name));
  for (const p of problems) add(`${path}.inputs[${p.index}]`, `${what}: ${p.message}`);
  const inputViews = new Set(scope.inputs.map((i) => i.view));
  // Request fields travel as entity columns next to the join keys: their names must differ.
  const joinKeys = new Set(
    [...inputViews].flatMap((name) =>
      (views.get(name)?.entities ?? []).flatMap((e) => (entities.get(e)?.joinKeys ?? []).map((k) => k.name)),
    ),
  );

  od.requestFields.forEach((field, i) => {
    const p = `${path}.request[${i}]`;
    const problem = columnNameProblem(field.name);
    if (problem !== undefined) add(`${p}.name`, `${what}: request field ${problem}`);
    if (od.requestFields.findIndex((f) => f.name === field.name) !== i)
      add(`${p}.name`, `${what}: request field ${field.name} is listed twice`);
    if (joinKeys.has(field.name))
      add(`${p}.name`, `${what}: request field ${field.name} has the name of a join key of its inputs; rename it`);
    if (RESERVED.has(field.name) || inputViews.has(field.name))
      add(
        `${p}.name`,
        `${what}: request field ${field.name} has the name of ${field.name === 'now' ? 'the read time now' : 'an input view'}; rename it`,
      );
    if (!(VALUE_TYPES as readonly string[]).includes(field.type))
      add(
        `${p}.type`,
        `${what}: request field ${field.name}: type ${JSON.stringify(field.type)} is unknown; types: ${VALUE_TYPES.join(', ')}`,
      );
  });

  if (view.features.length === 0) add(`${path}.features`, `${what} has no features; define at least one`);
  // Expressions are checked only when the inputs are all typed: an unknown input would only repeat itself.
  const scopeKnown =
    problems.length === 0 && od.requestFields.every((f) => (VALUE_TYPES as readonly string[]).includes(f.type));
  view.features.forEach((feature, k) => {
    const p = `${path}.features[${k}]`;
    const fw = `${what}, feature ${feature.name}`;
    const problem = columnNameProblem(feature.name);
    if (problem !== undefined) add(`${p}.name`, `${what}: feature ${problem}`);
    if (view.features.findIndex((f) => f.name === feature.name) !== k)
      add(`${p}.name`, `${what}: duplicate feature name "${feature.name}"`);
    validateStrings(feature.description, feature.tags, p, fw, add);
    if (!ON_DEMAND_TYPES.includes(feature.type)) {
      add(
        `${p}.type`,
        `${fw}: type ${JSON.stringify(feature.type)} is not an on-demand type; use one of ${ON_DEMAND_TYPES.join(', ')}`,
      );
      return;
    }
    const expr = od.expressions[k];
    if (expr === undefined || expr.expression.trim() === '') {
      add(
        `${p}.expr`,
        `${fw}: expr is empty; write a CEL expression such as double(now - purchases.last_purchase_at) / 86400000.0`,
      );
      return;
    }
    if (!scopeKnown) return;
    const compiled = compileOnDemand(expr.expression, feature.type, scope, expr.evaluateNulls);
    if (!compiled.ok) add(`${p}.expr`, `${fw}: ${compiled.error}`);
  });
  if (od.expressions.length !== view.features.length)
    add(
      `${path}.features`,
      `${what}: ${view.features.length} features but ${od.expressions.length} expressions; give each feature one`,
    );
}
