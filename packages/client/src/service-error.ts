import type { ServiceError } from '@grpc/grpc-js';
import { TesseraError } from '@tessera/core';
import type { ErrorCode, Problem } from '@tessera/core';

/** Turns a gRPC error into a TesseraError with the server's message and problem list. */
export function fromServiceError(error: ServiceError): TesseraError {
  const problems = error.metadata?.get('tessera-problems-bin')[0];
  const code = GRPC_TO_CODE[error.code as number] ?? 'INTERNAL';
  const message = error.details || error.message;
  return new TesseraError(code, message, {
    cause: error,
    details: problems instanceof Buffer ? parseProblems(problems) : [],
  });
}

const GRPC_TO_CODE: Partial<Record<number, ErrorCode>> = {
  3: 'INVALID_ARGUMENT',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  9: 'FAILED_PRECONDITION',
  8: 'RESOURCE_EXHAUSTED',
  14: 'UNAVAILABLE',
  4: 'DEADLINE_EXCEEDED',
  12: 'UNIMPLEMENTED',
  16: 'UNAUTHENTICATED',
  7: 'PERMISSION_DENIED',
  // CANCELLED reaches a client when the server cancels its call (a shutdown past its grace period).
  1: 'UNAVAILABLE',
  11: 'INVALID_ARGUMENT',
  13: 'INTERNAL',
};

/** Whether `error` is a grpc-js call error (a status code and metadata). */
export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number' && 'metadata' in error;
}

function parseProblems(bytes: Buffer): Problem[] {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return Array.isArray(parsed) ? (parsed as Problem[]) : [];
  } catch {
    return [];
  }
}

/** A unary call as a promise; a failed call rejects with a TesseraError. */
export function unary<T>(start: (cb: (error: ServiceError | null, response?: T) => void) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, response) => (error ? reject(fromServiceError(error)) : resolve(response as T)));
  });
}
