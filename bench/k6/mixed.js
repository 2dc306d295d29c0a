// k6 mixed load: GetOnlineFeatures and Write at two constant arrival rates (open loop), run by
// bench/mixed.ts with: TESSERA_ADDRESS, READ_BODIES and WRITE_BODIES (JSON arrays of requests, used
// in turn), READ_RATE and WRITE_RATE (per second), DURATION (e.g. "30s"), VUS (pre-allocated per
// scenario). Each Write gets the current time as its rows' event time, so every write is fresh.
// Latencies per kind come out as submetrics (`grpc_req_duration{scenario:reads}`), which k6 puts
// in the summary only when a threshold names them: hence the always-true thresholds.
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const client = new grpc.Client();
const readBodies = JSON.parse(__ENV.READ_BODIES);
const writeBodies = JSON.parse(__ENV.WRITE_BODIES);
const vus = Number(__ENV.VUS);

function scenario(rate, exec) {
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration: __ENV.DURATION,
    preAllocatedVUs: vus,
    maxVUs: vus * 4,
    exec,
  };
}

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  thresholds: {
    'grpc_req_duration{scenario:reads}': ['max>=0'],
    'grpc_req_duration{scenario:writes}': ['max>=0'],
    'checks{scenario:reads}': ['rate>=0'],
    'checks{scenario:writes}': ['rate>=0'],
    'iterations{scenario:reads}': ['count>=0'],
    'iterations{scenario:writes}': ['count>=0'],
  },
  scenarios: {
    reads: scenario(Number(__ENV.READ_RATE), 'reads'),
    writes: scenario(Number(__ENV.WRITE_RATE), 'writes'),
  },
};

let connected = false;
function connect() {
  if (!connected) {
    client.connect(__ENV.TESSERA_ADDRESS, { plaintext: true, reflect: true });
    connected = true;
  }
}

export function reads() {
  connect();
  const response = client.invoke('tessera.v1.FeatureStore/GetOnlineFeatures', readBodies[__ITER % readBodies.length]);
  check(response, { 'read OK': (r) => r && r.status === grpc.StatusOK });
}

export function writes() {
  connect();
  const body = writeBodies[__ITER % writeBodies.length];
  const rows = body.columns[Object.keys(body.columns)[0]].int64Values.values.length;
  body.eventTimestamps = { timestampValues: { values: new Array(rows).fill(String(Date.now())) } };
  const response = client.invoke('tessera.v1.FeatureStore/Write', body);
  check(response, { 'write OK': (r) => r && r.status === grpc.StatusOK });
}
