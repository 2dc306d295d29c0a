// A gRPC health probe for pods whose port speaks TLS, which kubelet's gRPC probe cannot:
// `node grpc-health.mjs <host:port> <plaintext|tls> [service]` calls grpc.health.v1.Health/Check
// over HTTP/2 with Node's own http2 module (the image needs nothing else) and exits 0 only on
// SERVING. It checks that this pod's server answers, not who it is, so TLS skips verification.
import { connect } from 'node:http2';

const TIMEOUT_MILLIS = 2_500;
const SERVING = 1;
const [address = '', mode = 'plaintext', service = ''] = process.argv.slice(2);

function varint(value) {
  const bytes = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function fail(reason) {
  console.error(`grpc-health: ${address} ${service || '(overall)'}: ${reason}`);
  process.exit(1);
}

// HealthCheckRequest { string service = 1; } in a gRPC frame (uncompressed, 4-byte length).
const name = Buffer.from(service, 'utf8');
const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
const header = Buffer.alloc(5);
header.writeUInt32BE(message.length, 1);

const timer = setTimeout(() => fail(`no answer within ${TIMEOUT_MILLIS} ms`), TIMEOUT_MILLIS);
const session = connect(`${mode === 'tls' ? 'https' : 'http'}://${address}`, { rejectUnauthorized: false });
session.on('error', (error) => fail(error.message));
const call = session.request({
  ':method': 'POST',
  ':path': '/grpc.health.v1.Health/Check',
  'content-type': 'application/grpc',
  te: 'trailers',
});
const chunks = [];
let grpcStatus;
call.on('response', (headers) => {
  if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
});
call.on('trailers', (trailers) => {
  grpcStatus = String(trailers['grpc-status']);
});
call.on('data', (chunk) => chunks.push(chunk));
call.on('error', (error) => fail(error.message));
call.on('end', () => {
  clearTimeout(timer);
  session.close();
  if (grpcStatus !== '0') fail(`grpc-status ${grpcStatus ?? 'missing'}`);
  // HealthCheckResponse { ServingStatus status = 1; }: absent means UNKNOWN (0).
  const body = Buffer.concat(chunks).subarray(5);
  const status = body[0] === 0x08 ? (body[1] ?? 0) : 0;
  if (status !== SERVING) fail(`status ${status}, not SERVING`);
  process.exit(0);
});
call.end(Buffer.concat([header, message]));
