/** The fixed list of error codes; each maps to one gRPC status code at the server edge. */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'UNIMPLEMENTED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Canonical gRPC status code names, by number (as grpc-go, grpcurl and OpenTelemetry spell them). */
export const GRPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** A gRPC status code by its canonical name (`NOT_FOUND`, `UNAVAILABLE`, ...). */
export type GrpcCodeName = (typeof GRPC_CODE_NAMES)[number];

/** The canonical name of a gRPC status code number (`14` → `UNAVAILABLE`); `UNKNOWN` for a number out of range. */
export function grpcCodeName(code: number): GrpcCodeName {
  return GRPC_CODE_NAMES[code] ?? 'UNKNOWN';
}

/** One problem found in input: where it is and which rule it breaks. */
export interface Problem {
  /** File (YAML repository) or request part, e.g. `features.yaml` or `write customer_stats@1`. */
  readonly file?: string;
  /** Path inside it, e.g. `feature_views[0].features[2].type`, or `row 17, column loyalty_score`. */
  readonly path: string;
  /** The rule, e.g. `max 5`, `unknown type "float32"`. */
  readonly message: string;
}

export interface TesseraErrorOptions {
  readonly details?: readonly Problem[];
  readonly cause?: unknown;
}

/** The one error type of Tessera. Messages say what to fix. */
export class TesseraError extends Error {
  override readonly name = 'TesseraError';
  readonly code: ErrorCode;
  readonly details: readonly Problem[];

  constructor(code: ErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
  }
}

/** Formats problems one per line: `file: path: message`. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems
    .map((p) => [p.file, p.path, p.message].filter((s) => s !== undefined && s !== '').join(': '))
    .join('\n');
}

/** True for a TesseraError (also across package copies). */
export function isTesseraError(error: unknown): error is TesseraError {
  return error instanceof TesseraError || (error instanceof Error && error.name === 'TesseraError' && 'code' in error);
}
