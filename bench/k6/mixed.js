// k6 mixed load: GetOnlineFeatures and Write at two constant arrival rates (open loop), run by
// bench/mixed.ts with: TESSERA_ADDRESS, BODIES_FILE (a JSON file {reads, writes}: arrays of
// requests, used in turn; a file because the environment cannot hold them), READ_RATE and WRITE_RATE (per second), DURATION (e.g. "30s"), VUS (pre-allocated per
// scenario). Each Write gets the current time as its rows' event time, so every write is fresh.
// Latencies per kind come out as submetrics (`grpc_req_duration{scenario:reads}`), which k6 puts
// in the summary only when a threshold names them: hence the always-true thresholds.
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const client = new grpc.Client();
const bodies = JSON.parse(open(__ENV.BODIES_FILE));
const readBodies = bodies.reads;
const writeBodies = bodies.writes;
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

// WRITE_RATE 0: reads alone (the baseline of the same run).
const kinds = Number(__ENV.WRITE_RATE) > 0 ? ['reads', 'writes'] : ['reads'];
const rates = { reads: Number(__ENV.READ_RATE), writes: Number(__ENV.WRITE_RATE) };
const thresholds = {};
const scenarios = {};
for (const kind of kinds) {
  thresholds[`grpc_req_duration{scenario:${kind}}`] = ['max>=0'];
  thresholds[`checks{scenario:${kind}}`] = ['rate>=0'];
  thresholds[`iterations{scenario:${kind}}`] = ['count>=0'];
  scenarios[kind] = scenario(rates[kind], kind);
}

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  thresholds,
  scenarios,
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
