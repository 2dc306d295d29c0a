import { Client, credentials } from '@grpc/grpc-js';
import type { ChannelCredentials } from '@grpc/grpc-js';

const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';
/** An empty HealthCheckRequest (service "": the server as a whole) encodes to zero bytes. */
const EMPTY_REQUEST = Buffer.alloc(0);

/**
 * A gRPC round trip to the same server that does (almost) no work: grpc.health.v1 Check, answered
 * from a map. What every GetOnlineFeatures pays before the store is touched.
 */
export class GrpcFloor {
  readonly #client: Client;
  /** `channelCredentials`: plaintext by default; TLS ones measure the floor of a TLS server. */
  constructor(address: string, channelCredentials: ChannelCredentials = credentials.createInsecure()) {
    this.#client = new Client(address, channelCredentials);
  }

  check(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        HEALTH_CHECK_METHOD,
        () => EMPTY_REQUEST,
        (reply: Buffer) => reply,
        EMPTY_REQUEST,
        (error, reply) => (error || reply === undefined ? reject(error ?? new Error('no reply')) : resolve(reply)),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}
