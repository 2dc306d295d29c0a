import { randomBytes } from 'node:crypto';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { formatProblems, isTesseraError } from '@tessera/core';

/** Longest problem list sent in trailing metadata (the message already names the first problem). */
const MAX_DETAIL_BYTES = 8_000;
const MAX_DETAILS = 50;
/**
 * Longest status message sent, in characters. Messages quote input at most ~200 characters at a
 * time (`quoteInput`); this is the last guard: a status message travels in an HTTP/2 trailer, and
 * one of 100 KB stalled the channel and reached the client as UNAVAILABLE.
 */
export const MAX_STATUS_DETAILS_CHARS = 2_000;
/** Trailer carrying the JSON list of problems (file, path, message) of an INVALID_ARGUMENT. */
export const PROBLEMS_METADATA_KEY = 'tessera-problems-bin';

/**
 * The one place where anything thrown becomes a gRPC status. A TesseraError keeps its code and
 * message (its problem list goes into the `tessera-problems` trailer), cut to
 * {@link MAX_STATUS_DETAILS_CHARS}. An INTERNAL error (a TesseraError of that code, or anything else
 * thrown, which is a bug) never carries internal details to the caller: it answers a generic message
 * with a short correlation id. The real error rides with the status's trailer object (never sent:
 * a WeakMap entry) to the server's telemetry interceptor, which logs it once under that id with
 * the method — this function stays free of any logger.
 */
export function toGrpcStatus(error: unknown): Partial<ServiceError> {
  if (isTesseraError(error) && error.code !== 'INTERNAL') {
    const metadata = new Metadata();
    if (error.details.length > 0) {
      // Binary metadata: problems may hold newlines and quotes, which text metadata forbids.
      const json = JSON.stringify(error.details.slice(0, MAX_DETAILS));
      metadata.set(
        PROBLEMS_METADATA_KEY,
        Buffer.from(
          json.length <= MAX_DETAIL_BYTES
            ? json
            : JSON.stringify([{ path: '', message: formatProblems(error.details).slice(0, MAX_DETAIL_BYTES) }]),
        ),
      );
    }
    return { code: status[error.code], details: capDetails(error.message), metadata };
  }
  const id = randomBytes(6).toString('hex');
  const metadata = new Metadata();
  internalErrors.set(metadata, { id, error });
  return {
    code: status.INTERNAL,
    details: `internal error (id ${id}); the server log has the details under this id`,
    metadata,
  };
}

/** An INTERNAL error behind a status: the id its client was told, and what was thrown. */
export interface InternalError {
  readonly id: string;
  readonly error: unknown;
}

const internalErrors = new WeakMap<Metadata, InternalError>();

/** The error behind an INTERNAL status's trailers, once (a second call answers undefined). */
export function takeInternalError(metadata: Metadata): InternalError | undefined {
  const internal = internalErrors.get(metadata);
  internalErrors.delete(metadata);
  return internal;
}

/** A status message cut to {@link MAX_STATUS_DETAILS_CHARS} characters, then its length. */
export function capDetails(details: string): string {
  return details.length <= MAX_STATUS_DETAILS_CHARS
    ? details
    : `${details.slice(0, MAX_STATUS_DETAILS_CHARS)}… (${details.length} chars)`;
}

/** Runs a handler and answers with its result or its error as a gRPC status. */
export function answer<Req, Res>(work: (request: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => work(call.request, call))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error)),
      );
  };
}
