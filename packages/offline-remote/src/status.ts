/**
 * The one mapping between TesseraError codes and gRPC statuses on the offline hop, both ways: the
 * offline server answers with the code and message of the store's error (and its problem list),
 * and the remote store throws the same TesseraError again, so a feature server reports an offline
 * failure as it would with the store in its own process.
 */
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError, isTesseraError, type ErrorCode, type Problem } from '@tessera/core';

const FROM_GRPC = new Map<number, ErrorCode>([
  // Every error code is also a gRPC status name.
  ...ERROR_CODES.map((code) => [status[code], code] as const),
  // The offline server cancelled the call (its shutdown past the grace period), or the link broke.
  [status.CANCELLED, 'UNAVAILABLE'],
  [status.OUT_OF_RANGE, 'INVALID_ARGUMENT'],
  [status.UNKNOWN, 'INTERNAL'],
  [status.ABORTED, 'UNAVAILABLE'],
  [status.DATA_LOSS, 'INTERNAL'],
]);

/** Trailer with the JSON problem list of an error (as the public services send it). */
const PROBLEMS_KEY = 'tessera-problems-bin';
/** Longest status message sent: a status message travels in an HTTP/2 trailer. */
const MAX_DETAILS_CHARS = 2_000;
const MAX_PROBLEMS = 50;

/**
 * The status of a failed offline call. Anything that is not a TesseraError is a bug of the offline
 * server: reported through `onInternal` (its log) and answered INTERNAL without internals.
 */
export function toOfflineStatus(error: unknown, onInternal: (error: unknown) => void): Partial<StatusObject> {
  const metadata = new Metadata();
  if (!isTesseraError(error)) {
    onInternal(error);
    return { code: status.INTERNAL, details: 'offline server: internal error (see its log)', metadata };
  }
  if (error.details.length > 0) {
    metadata.set(PROBLEMS_KEY, Buffer.from(JSON.stringify(error.details.slice(0, MAX_PROBLEMS))));
  }
  const details =
    error.message.length <= MAX_DETAILS_CHARS
      ? error.message
      : `${error.message.slice(0, MAX_DETAILS_CHARS)}… (${error.message.length} chars)`;
  return { code: status[error.code], details, metadata };
}

/** The TesseraError of a failed offline call (the server's code, message and problems). */
export function fromOfflineStatus(error: ServiceError, address: string): TesseraError {
  const code = FROM_GRPC.get(error.code) ?? 'INTERNAL';
  const problems = error.metadata?.get(PROBLEMS_KEY)[0];
  // Transport failures (no server, TLS, refused key) say which hop failed; the store's own errors read as they were.
  const transport = code === 'UNAVAILABLE' || code === 'UNAUTHENTICATED' || code === 'PERMISSION_DENIED';
  const message = error.details || error.message;
  return new TesseraError(code, transport ? `offline server ${address}: ${message}` : message, {
    cause: error,
    details: problems instanceof Buffer ? parseProblems(problems) : [],
  });
}

function parseProblems(bytes: Buffer): Problem[] {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return Array.isArray(parsed) ? (parsed as Problem[]) : [];
  } catch {
    return [];
  }
}
