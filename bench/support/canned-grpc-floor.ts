// The gRPC floor measured beside Tessera in the same run: a bare grpc-js server (a child process, like
// the Tessera server) that answers GetOnlineFeatures with a canned response of the same bytes as
// Tessera's, and a client that sends a request of the same bytes. What is left above it is Tessera.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, credentials } from '@grpc/grpc-js';
import { descriptorSetBytes } from '@tessera/proto';
import { startServerProcess, type ServerProcess } from './server-process.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./canned-grpc-server.ts', import.meta.url));
const METHOD = '/tessera.v1.FeatureStore/GetOnlineFeatures';

/** A running canned server, and the descriptor set file ghz needs to call it (no reflection there). */
export interface CannedGrpcServer {
  readonly process: ServerProcess;
  readonly address: string;
  readonly pid: number;
  /** FileDescriptorSet of proto/, for `ghz --protoset`. */
  readonly protoset: string;
  stop(): Promise<void>;
}

/** Starts a canned server answering every GetOnlineFeatures with `response` (encoded bytes); `nodeArgs` as the server's. */
export async function startCannedGrpcServer(
  response: Uint8Array,
  nodeArgs: readonly string[] = [],
): Promise<CannedGrpcServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-canned-'));
  const responseFile = join(dir, 'response.bin');
  const protoset = join(dir, 'tessera.protoset');
  await writeFile(responseFile, response);
  await writeFile(protoset, descriptorSetBytes);
  let server: ServerProcess;
  try {
    server = await startServerProcess(SERVER_SCRIPT, ['--response', responseFile], [...nodeArgs, '--import', 'tsx']);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    process: server,
    address: server.address,
    pid: server.pid,
    protoset,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A grpc-js client of the canned server sending the same request bytes each call (no protobuf work). */
export class CannedGrpcClient {
  readonly #client: Client;
  readonly #request: Buffer;
  constructor(address: string, request: Uint8Array) {
    this.#client = new Client(address, credentials.createInsecure());
    this.#request = Buffer.from(request);
  }

  call(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        METHOD,
        (bytes: Buffer) => bytes,
        (reply: Buffer) => reply,
        this.#request,
        (error, reply) => (error || reply === undefined ? reject(error ?? new Error('no reply')) : resolve(reply)),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}
