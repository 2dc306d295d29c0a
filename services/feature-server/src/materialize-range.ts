import { MIN_EVENT_TS_MILLIS, TesseraError, formatTimestamp } from '@tessera/core';
import type { MaterializeRequest } from '@tessera/proto';

/**
 * The end (exclusive, ms) of a Materialize call, after checking its range. Refused, naming the field
 * and the rule: start_time at or after end_time; a start before 1900-01-01 (the earliest event time
 * stored); an end later than now plus the allowed event-time skew — a far-future end would become the
 * view's materialized point, and every incremental run after it would copy nothing.
 * An incremental call takes its range from the last run and ignores both fields (as documented).
 */
export function materializeEndMillis(request: MaterializeRequest, nowMillis: number, maxSkewMillis: number): number {
  if (request.incremental) return nowMillis;
  const start = Number(request.startTime);
  const end = request.endTime === 0n ? nowMillis : Number(request.endTime);
  const latest = nowMillis + maxSkewMillis;
  const refuse = (rule: string): never => {
    throw new TesseraError('INVALID_ARGUMENT', `Materialize: ${rule}`);
  };
  if (start < MIN_EVENT_TS_MILLIS) {
    refuse(`start_time ${start} is before ${formatTimestamp(MIN_EVENT_TS_MILLIS)}, the earliest event time stored`);
  }
  if (end > latest) {
    refuse(
      `end_time ${end} is later than now plus ${maxSkewMillis} ms (${formatTimestamp(latest)}); no event can be that late`,
    );
  }
  if (!(start < end)) {
    refuse(
      `start_time (${start}) must be before end_time (${end}${request.endTime === 0n ? ', now' : ''}); use incremental to continue from the last run`,
    );
  }
  return end;
}
