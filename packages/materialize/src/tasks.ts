import {
  TesseraError,
  type MaterializeQueue,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';
import { materializeView, type MaterializeProgressEvent } from './materialize-view.js';

/** A short stable name of a view version for the state (`name@version`). */
export function materializeKey(view: RegisteredView): string {
  return `${view.name}@${view.version}`;
}

/** One view's share of a Materialize call. */
export interface MaterializeTask {
  readonly view: RegisteredView;
  readonly startMillis: number;
  readonly endMillis: number;
}

/** Progress of a task; `done` once the whole view is copied. */
export interface MaterializeTaskProgress extends MaterializeProgressEvent {
  readonly task: MaterializeTask;
  readonly done: boolean;
}

/** Runs tasks in order: in this process (embedded) or as jobs on the writers (cluster mode). */
export type MaterializeRunner = (
  tasks: readonly MaterializeTask[],
  signal: AbortSignal,
) => AsyncIterable<MaterializeTaskProgress>;

/** The runner of a server that reaches the offline store itself. */
export function inProcessRunner(offline: OfflineStore | undefined, online: OnlineStore): MaterializeRunner {
  return async function* (tasks, signal) {
    if (!offline) throw new TesseraError('UNAVAILABLE', 'Materialize: this server runs without an offline store');
    const now = Date.now();
    for (const task of tasks) {
      let last: MaterializeProgressEvent = { rowsRead: 0, rowsWritten: 0 };
      for await (const progress of materializeView({ offline, online, ...task, signal, nowMillis: now })) {
        last = progress;
        yield { task, ...progress, done: false };
      }
      yield { task, ...last, done: true };
    }
  };
}

/** The runner of a cluster-mode server: the writers run the parts as queued jobs. */
export function queuedRunner(materializer: MaterializeQueue): MaterializeRunner {
  return async function* (tasks, signal) {
    const byLabel = new Map(tasks.map((task) => [materializeKey(task.view), task]));
    const requests = tasks.map((task) => ({
      view: task.view.name,
      version: task.view.version,
      startMillis: task.startMillis,
      endMillis: task.endMillis,
    }));
    for await (const progress of materializer.run(requests, signal)) {
      const task = byLabel.get(`${progress.view}@${progress.version}`);
      if (task === undefined)
        throw new TesseraError('INTERNAL', `materialize: progress of an unknown view ${progress.view}`);
      yield { task, rowsRead: progress.rowsRead, rowsWritten: progress.rowsWritten, done: progress.done };
    }
  };
}
