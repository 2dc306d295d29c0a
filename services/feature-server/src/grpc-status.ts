import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { formatProblems, isTesseraError } from '@tessera/core';
import type { ErrorCode } from '@tessera/core';
import { debug } from './debug.js';

const CODES: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  INTERNAL: status.INTERNAL,
};

/** Longest problem list sent in trailing metadata (the message already names the first problem). */
const MAX_DETAIL_BYTES = 8_000;
const MAX_DETAILS = 50;
/** Trailer carrying the JSON list of problems (file, path, message) of an INVALID_ARGUMENT. */
export const PROBLEMS_METADATA_KEY = 'tessera-problems-bin';

/**
 * The one place where anything thrown becomes a gRPC status. A TesseraError keeps its code and
 * message (its problem list goes into the `tessera-problems` trailer); anything else is a bug
 * and becomes INTERNAL with the original message, logged.
 */
export function toGrpcStatus(error: unknown): Partial<ServiceError> {
  if (isTesseraError(error)) {
    const metadata = new Metadata();
    if (error.details.length > 1) {
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
    return { code: CODES[error.code], details: error.message, metadata };
  }
  const message = error instanceof Error ? error.message : String(error);
  debug('server', 'internal error', error);
  console.error('tessera: internal error:', error);
  return { code: status.INTERNAL, details: `internal error: ${message}` };
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
