import type { Logger, RegisteredView } from '@tessera/core';
import type { TesseraMetrics, ViewFreshness } from '@tessera/telemetry';

/**
 * What the handlers of one server log to and count into. Metrics are optional (off unless the
 * server has a /metrics endpoint); recording then costs one undefined check.
 */
export interface ServerTelemetry {
  readonly logger: Logger;
  readonly metrics: TesseraMetrics | undefined;
  /** The freshness record of a view version, kept per registered view object (no key built per call). */
  freshness(view: RegisteredView): ViewFreshness | undefined;
}

/** The telemetry of a server: a logger, and metrics when they are exported. */
export function serverTelemetry(logger: Logger, metrics: TesseraMetrics | undefined): ServerTelemetry {
  const byView = new WeakMap<RegisteredView, ViewFreshness>();
  return {
    logger,
    metrics,
    freshness(view) {
      if (metrics === undefined) return undefined;
      let record = byView.get(view);
      if (record === undefined) {
        record = metrics.freshness.view(view.name, view.version);
        byView.set(view, record);
      }
      return record;
    },
  };
}
