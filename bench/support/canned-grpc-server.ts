// The gRPC floor of the online benchmarks: a bare grpc-js server whose GetOnlineFeatures answers every
// call with the same canned response bytes (no decoding, no store, no interceptors); ghz finds the
// method in the descriptor set (`--protoset`), not by reflection. Run as a child process by
// bench/support/canned-grpc-floor.ts:
// `node --import tsx canned-grpc-server.ts … --response <file>` (started like `tessera serve`, so the
// other arguments are ignored); prints `serving on <address>`.
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServiceDefinition, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { FeatureStoreService } from '@tessera/proto';

const responseFile = process.argv[process.argv.indexOf('--response') + 1];
if (!process.argv.includes('--response') || responseFile === undefined) {
  throw new Error('usage: canned-grpc-server.ts --response <file>');
}
const canned = readFileSync(responseFile);

const method = FeatureStoreService.getOnlineFeatures;
// The same method path, requests and responses as raw bytes: the floor does no protobuf work.
const definition = {
  getOnlineFeatures: {
    ...method,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (bytes: Buffer) => bytes,
  },
} as unknown as ServiceDefinition;
const server = new Server();
server.addService(definition, {
  getOnlineFeatures: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
    callback(null, canned),
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(`serving on 127.0.0.1:${port}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.forceShutdown());
