import { ReflectionService } from '@grpc/reflection';
import type { Server } from '@grpc/grpc-js';
import { descriptorSetBytes } from '@tessera/proto';

/**
 * Server reflection from the real FileDescriptorSet of proto/ (true file names and imports), so
 * grpcurl and buf curl can resolve every message. A package definition loaded from .proto text
 * would serve invented file names without dependencies, which breaks clients as soon as a file
 * imports another. The set includes grpc.health.v1 (vendored in third_party/proto).
 */
export function addReflection(server: Server, services: readonly string[] = FEATURE_SERVER_SERVICES): void {
  const files = splitDescriptorSet(descriptorSetBytes);
  const definition = { 'tessera.descriptors': { fileDescriptorProtos: files } };
  // Only the services this server runs are listed; every message stays resolvable.
  new ReflectionService(definition as never, { services: [...services] }).addToServer(server);
}

/** What a feature server serves (the offline server's internal service is not among them). */
const FEATURE_SERVER_SERVICES = [
  'grpc.health.v1.Health',
  'tessera.v1.FeatureStore',
  'tessera.v1.Operations',
  'tessera.v1.Registry',
];

/** What an offline server serves. */
export const OFFLINE_SERVER_SERVICES = ['grpc.health.v1.Health', 'tessera.offline.v1.OfflineStore'];

/** Splits a FileDescriptorSet (field 1: repeated FileDescriptorProto) into its files' bytes. */
function splitDescriptorSet(set: Uint8Array): Buffer[] {
  const files: Buffer[] = [];
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = set[pos++];
      if (byte === undefined) throw new Error('descriptor set is truncated');
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  };
  while (pos < set.length) {
    const tag = varint();
    if (tag !== (1 << 3) + 2) throw new Error(`unexpected field tag ${tag} in descriptor set`);
    const length = varint();
    files.push(Buffer.from(set.subarray(pos, pos + length)));
    pos += length;
  }
  return files;
}
