import { describe, it } from 'vitest';
import { openHttpOfflineStore } from '../src/index.js';
import { describeOfflineStore } from './offline-store-suite.js';

/**
 * The behavioural suite against a real ClickHouse server. None can be installed on these machines
 * (Debian ships 18.16, without ASOF JOIN or DateTime64), so it runs only when CLICKHOUSE_URL
 * points at one, e.g. `CLICKHOUSE_URL=http://default:@127.0.0.1:8123`.
 */
const url = process.env.CLICKHOUSE_URL;

if (url === undefined || url === '') {
  describe.skip('ClickHouse server over HTTP: skipped because CLICKHOUSE_URL is not set (no ClickHouse server can be installed here)', () => {
    it('runs the offline store suite against the server at CLICKHOUSE_URL', () => undefined);
  });
} else {
  describeOfflineStore(`ClickHouse server at ${new URL(url).host}`, {
    open: (database) => openHttpOfflineStore(url, { database }),
  });
}
