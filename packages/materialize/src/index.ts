export { MATERIALIZE_BATCH_ROWS, materializeView } from './materialize-view.js';
export type { MaterializeProgressEvent } from './materialize-view.js';
export { inProcessRunner, materializeKey, queuedRunner } from './tasks.js';
export type { MaterializeRunner, MaterializeTask, MaterializeTaskProgress } from './tasks.js';
export { materializePartRunner } from './part-runner.js';
export type { MaterializePart, RunMaterializePart } from './part-runner.js';
