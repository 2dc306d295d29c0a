// k6 open-loop GetOnlineFeatures at a constant arrival rate (the knee: latency against offered load).
// Run by bench/online-k6.ts with: TESSERA_ADDRESS, TESSERA_BODY (the request as JSON), RATE (per
// second), DURATION (e.g. "8s"), VUS (pre-allocated virtual users).
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const client = new grpc.Client();
const body = JSON.parse(__ENV.TESSERA_BODY);

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
  scenarios: {
    reads: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE),
      timeUnit: '1s',
      duration: __ENV.DURATION,
      preAllocatedVUs: Number(__ENV.VUS),
      maxVUs: Number(__ENV.VUS) * 4,
    },
  },
};

export default function () {
  if (__ITER === 0) client.connect(__ENV.TESSERA_ADDRESS, { plaintext: true, reflect: true });
  const response = client.invoke('tessera.v1.FeatureStore/GetOnlineFeatures', body);
  check(response, { 'status is OK': (r) => r && r.status === grpc.StatusOK });
}
