// k6 closed loop: VUS virtual users each sending one request after another for DURATION, over gRPC
// (Tessera's GetOnlineFeatures) or HTTP (Feast's feature server, POST /get-online-features), so
// both servers meet the same load generator. Run by bench/feast.ts with: PROTOCOL (grpc|http),
// TARGET (host:port for gRPC, the URL for HTTP), BODIES_FILE (a JSON array of request bodies, used
// in turn; a file because the environment cannot hold them), VUS, DURATION.
import grpc from 'k6/net/grpc';
import http from 'k6/http';
import { check } from 'k6';

const protocol = __ENV.PROTOCOL;
const bodies = JSON.parse(open(__ENV.BODIES_FILE));
const texts = bodies.map((body) => JSON.stringify(body));
const client = protocol === 'grpc' ? new grpc.Client() : undefined;

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  scenarios: {
    closed: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.DURATION },
  },
};

let connected = false;

export default function () {
  const i = __ITER % bodies.length;
  if (protocol === 'grpc') {
    if (!connected) {
      client.connect(__ENV.TARGET, { plaintext: true, reflect: true });
      connected = true;
    }
    const response = client.invoke('tessera.v1.FeatureStore/GetOnlineFeatures', bodies[i]);
    check(response, { OK: (r) => r && r.status === grpc.StatusOK });
  } else {
    const response = http.post(__ENV.TARGET, texts[i], { headers: { 'Content-Type': 'application/json' } });
    check(response, { OK: (r) => r.status === 200 });
  }
}
