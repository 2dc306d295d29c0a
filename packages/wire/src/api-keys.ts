import { TesseraError, type ApiKeyRecord, type Scope } from '@tessera/core/basics';
import { Scope as ProtoScope } from '@tessera/proto';
import type { ApiKey } from '@tessera/proto';

const TO_PROTO: Record<Scope, ProtoScope> = {
  read: ProtoScope.SCOPE_READ,
  write: ProtoScope.SCOPE_WRITE,
  admin: ProtoScope.SCOPE_ADMIN,
};

/** The wire enum of a scope. */
export function toProtoScope(scope: Scope): ProtoScope {
  return TO_PROTO[scope];
}

/** A wire scope as a domain scope; INVALID_ARGUMENT for unspecified or unknown numbers. */
export function fromProtoScope(scope: ProtoScope): Scope {
  const found = (Object.keys(TO_PROTO) as Scope[]).find((s) => TO_PROTO[s] === scope);
  if (found === undefined) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `scopes: ${String(scope)} is not a scope (use SCOPE_READ, SCOPE_WRITE or SCOPE_ADMIN)`,
    );
  }
  return found;
}

/** A stored key as the wire shows it: never the salt or the hash. */
export function toProtoApiKey(record: ApiKeyRecord): ApiKey {
  return {
    id: record.id,
    name: record.name,
    scopes: record.scopes.map(toProtoScope),
    createdAtMillis: BigInt(record.createdAtMillis),
    revokedAtMillis: BigInt(record.revokedAtMillis ?? 0),
  };
}
