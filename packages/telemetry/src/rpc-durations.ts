import type { Histogram } from 'prom-client';

/** gRPC status code names by number (the `code` label, as grpc-go and OpenTelemetry spell them). */
const CODE_NAMES = [
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

/** The children of one method, one per status code, bound on first use. */
interface MethodChildren {
  readonly service: string;
  readonly method: string;
  readonly byCode: (Histogram.Internal<'service' | 'method' | 'code'> | undefined)[];
}

/** RPC durations: a path is split into service and method once, and each (path, code) child bound once. */
export class RpcDurations {
  readonly #histogram: Histogram<'service' | 'method' | 'code'>;
  readonly #methods = new Map<string, MethodChildren>();

  constructor(histogram: Histogram<'service' | 'method' | 'code'>) {
    this.#histogram = histogram;
  }

  /** Records one call: its path (`/tessera.v1.FeatureStore/GetOnlineFeatures`), gRPC code and duration. */
  observe(path: string, code: number, seconds: number): void {
    let children = this.#methods.get(path);
    if (children === undefined) {
      const slash = path.lastIndexOf('/');
      children = { service: path.slice(1, Math.max(1, slash)), method: path.slice(slash + 1), byCode: [] };
      this.#methods.set(path, children);
    }
    let child = children.byCode[code];
    if (child === undefined) {
      child = this.#histogram.labels(children.service, children.method, CODE_NAMES[code] ?? String(code));
      children.byCode[code] = child;
    }
    child.observe(seconds);
  }
}
