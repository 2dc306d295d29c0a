import { Client, credentials, type ServiceError } from '@grpc/grpc-js';

/** What `grpc.health.v1.Health/Check` answers for a service name, or the gRPC error code's name. */
export type HealthAnswer = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' | `error ${number}`;

const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

// The two messages are one field each, so they are encoded by hand (no proto loading in tests).
function encodeRequest(service: string): Buffer {
  const name = Buffer.from(service);
  return name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

function decodeStatus(bytes: Buffer): number {
  // Field 1 (varint); absent means 0 (UNKNOWN).
  return bytes.length >= 2 && bytes[0] === 0x08 ? (bytes[1] ?? 0) : 0;
}

/** A client of the standard health service; `check('')` is the overall status. */
export interface HealthProbe {
  check(service: string): Promise<HealthAnswer>;
  close(): void;
}

export function healthProbe(address: string): HealthProbe {
  const client = new Client(address, credentials.createInsecure());
  return {
    check: (service) =>
      new Promise((resolve) => {
        client.makeUnaryRequest<string, number>(
          '/grpc.health.v1.Health/Check',
          encodeRequest,
          decodeStatus,
          service,
          { deadline: Date.now() + 3_000 },
          (error: ServiceError | null, status?: number) =>
            resolve(error ? `error ${error.code}` : (STATUS_NAMES[status ?? 0] ?? 'UNKNOWN')),
        );
      }),
    close: () => client.close(),
  };
}
