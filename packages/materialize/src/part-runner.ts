import {
  TesseraError,
  type MaterializeCounts,
  type OfflineStore,
  type OnlineStore,
  type RegisteredView,
} from '@tessera/core';
import { materializeView } from './materialize-view.js';

/** One queued part of a view's materialization: the keys whose hash falls in part `part` of `parts`. */
export interface MaterializePart {
  readonly view: string;
  readonly version: number;
  readonly startMillis: number;
  readonly endMillis: number;
  readonly part: number;
  readonly parts: number;
}

/** Runs one part, reporting the running counts after every batch. */
export type RunMaterializePart = (
  part: MaterializePart,
  report: (counts: MaterializeCounts) => Promise<void>,
) => Promise<void>;

/**
 * What a writer runs for each queued part: the view version from the registry (NOT_FOUND when the
 * registry does not hold it), then its latest offline rows of the part written online.
 */
export function materializePartRunner(options: {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly findView: (name: string, version: number) => Promise<RegisteredView | undefined>;
}): RunMaterializePart {
  return async (part, report) => {
    const view = await options.findView(part.view, part.version);
    if (view === undefined) {
      throw new TesseraError('NOT_FOUND', `materialize: view ${part.view}@${part.version} is not in the registry`);
    }
    for await (const counts of materializeView({
      offline: options.offline,
      online: options.online,
      view,
      startMillis: part.startMillis,
      endMillis: part.endMillis,
      part: { index: part.part, count: part.parts },
    })) {
      await report(counts);
    }
  };
}
