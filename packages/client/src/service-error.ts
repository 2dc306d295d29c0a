import type { ServiceError } from '@grpc/grpc-js';
import { TesseraError, grpcCodeName } from '@tessera/core/basics';
import type { ErrorCode, GrpcCodeName, Problem } from '@tessera/core/basics';

export { grpcCodeName, type GrpcCodeName };

/**
 * A failed call as the client sees it: the server's status (code and message) and its problem list
 * (row, column, rule) decoded from the `tessera-problems-bin` trailer. It is a {@link TesseraError}
 * (same `code` list, `details` = `problems`), so code written against TesseraError keeps working;
 * `grpcCode` keeps the exact status (`CANCELLED` and `UNAVAILABLE` share the code `UNAVAILABLE`).
 */
export class TesseraClientError extends TesseraError {
  /** The gRPC status code number (14 = UNAVAILABLE). */
  readonly grpcCode: number;
  /** The gRPC status code's canonical name. */
  readonly grpcCodeName: GrpcCodeName;
  /** How many attempts the call made (more than 1 after retries on UNAVAILABLE). */
  readonly attempts: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { grpcCode: number; problems?: readonly Problem[]; cause?: unknown; attempts?: number },
  ) {
    super(code, message, { details: options.problems ?? [], cause: options.cause });
    // TesseraError declares name as its literal; the instance still says what it is.
    Object.defineProperty(this, 'name', { value: 'TesseraClientError', enumerable: false });
    this.grpcCode = options.grpcCode;
    this.grpcCodeName = grpcCodeName(options.grpcCode);
    this.attempts = options.attempts ?? 1;
  }

  /** The server's problems (one per bad row/column/rule); the message names the first. */
  get problems(): readonly Problem[] {
    return this.details;
  }

  /** The same error, counting `attempts` calls. */
  withAttempts(attempts: number): TesseraClientError {
    return new TesseraClientError(this.code, this.message, {
      grpcCode: this.grpcCode,
      problems: this.details,
      cause: this.cause,
      attempts,
    });
  }
}

/** Whether `error` is a {@link TesseraClientError}. */
export function isTesseraClientError(error: unknown): error is TesseraClientError {
  return error instanceof TesseraClientError;
}

/** Turns a gRPC error into a TesseraClientError with the server's message and problem list. */
export function fromServiceError(error: ServiceError): TesseraClientError {
  const problems = error.metadata?.get('tessera-problems-bin')[0];
  const grpcCode = typeof error.code === 'number' ? error.code : 2;
  const code = GRPC_TO_CODE[grpcCode] ?? 'INTERNAL';
  const message = error.details || error.message;
  return new TesseraClientError(code, message, {
    grpcCode,
    cause: error,
    problems: problems instanceof Buffer ? parseProblems(problems) : [],
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

/** A unary call as a promise; a failed call rejects with a TesseraClientError. */
export function unary<T>(start: (cb: (error: ServiceError | null, response?: T) => void) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, response) => (error ? reject(fromServiceError(error)) : resolve(response as T)));
  });
}
