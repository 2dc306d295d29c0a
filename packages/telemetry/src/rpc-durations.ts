import type { Histogram } from 'prom-client';
import { GRPC_CODE_NAMES } from '@tessera/core';

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
      child = this.#histogram.labels(children.service, children.method, GRPC_CODE_NAMES[code] ?? String(code));
      children.byCode[code] = child;
    }
    child.observe(seconds);
  }
}
