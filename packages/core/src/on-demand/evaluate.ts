/**
 * Evaluation of on-demand features over columns: the one loop both read paths run (online after
 * the store read, offline on the historical query's output), so that the same rows give the same
 * values on both sides.
 */
import type { FeatureValue } from '../model.js';
import type { CompiledOnDemandView } from './scope.js';

/** The columns one on-demand view's features are computed from, `rows` long each. */
export interface OnDemandColumns {
  readonly rows: number;
  /** One column per input, in `compiled.scope.inputs` order. */
  readonly inputs: readonly (readonly FeatureValue[])[];
  /** One column per request field, in `compiled.scope.requestFields` order. */
  readonly request: readonly (readonly FeatureValue[])[];
  /** `now` of each row, ms: the read time online, the entity row's timestamp offline. */
  nowMillis(row: number): number;
}

/**
 * Values of feature `featureIndex` for every row. An evaluation error (overflow, division by zero,
 * avg([])) gives null for that row and is counted: the error count is returned with the values.
 */
export function evaluateOnDemandColumn(
  compiled: CompiledOnDemandView,
  featureIndex: number,
  columns: OnDemandColumns,
): { values: FeatureValue[]; errors: number } {
  const program = compiled.programs[featureIndex];
  if (program === undefined) throw new Error(`on-demand view ${compiled.view.name} has no feature #${featureIndex}`);
  const values = new Array<FeatureValue>(columns.rows);
  const inputs = new Array<FeatureValue>(columns.inputs.length);
  const request = new Array<FeatureValue>(columns.request.length);
  let errors = 0;
  for (let row = 0; row < columns.rows; row++) {
    for (let i = 0; i < inputs.length; i++) inputs[i] = columns.inputs[i]![row] ?? null;
    for (let i = 0; i < request.length; i++) request[i] = columns.request[i]![row] ?? null;
    try {
      values[row] = program.evaluate({ inputs, request, nowMillis: columns.nowMillis(row) });
    } catch {
      values[row] = null;
      errors++;
    }
  }
  return { values, errors };
}
