// Where a historical request's time goes, by hand: one runHistorical with inline entity rows in this
// process on the bench's prepared data (bench/historical.ts), every engine call timed with the
// process's CPU time (chDB's threads included) and RSS after it, summed by phase (upload, parts of
// the key-range plan, the result read, other). bench/README.md, historical section, shows a run.
//   node --import tsx bench/support/historical-profile.ts <chdb dir> <entity rows> <plan> [partRows]
// <chdb dir>: .cache/bench-historical/rows-<n>/chdb; PROFILE_LOG=1 prints every call.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import type { HistoricalRequest } from '@tessera/core';
import { ChdbExecutor, runHistorical, type ClickHouseExecutor, type HistoricalPlan } from '@tessera/offline';
import { DATABASE, JOIN_KEY, benchViews, entityTable, loadEntityRows, resolvedAll } from './historical-dataset.js';

function statusBytes(field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
const gb = (b: number): string => (b / 1024 ** 3).toFixed(2);

const phases = new Map<string, number>();
function timed(inner: ClickHouseExecutor, log: string[]): ClickHouseExecutor {
  const t0 = performance.now();
  let cpuMark = process.cpuUsage();
  const note = (what: string, sql: string, started: number): void => {
    const used = process.cpuUsage(cpuMark);
    cpuMark = process.cpuUsage();
    const phase = what.startsWith('insert')
      ? 'upload'
      : sql.includes('INSERT INTO')
        ? 'parts'
        : what.startsWith('stream')
          ? 'read'
          : 'other';
    phases.set(phase, (phases.get(phase) ?? 0) + (used.user + used.system) / 1e6);
    log.push(
      `${((started - t0) / 1000).toFixed(2)}s +${((performance.now() - started) / 1000).toFixed(3)}s cpu ${((used.user + used.system) / 1e6).toFixed(2)} rss ${gb(statusBytes('VmRSS'))} ${what} ${sql.slice(0, 140).replace(/\s+/g, ' ')}`,
    );
  };
  return {
    kind: inner.kind,
    async command(sql, params, options) {
      const s = performance.now();
      await inner.command(sql, params, options);
      note('command', sql, s);
    },
    async queryJson(sql, params, options) {
      const s = performance.now();
      const r = await inner.queryJson(sql, params, options);
      note('json', sql, s);
      return r as never;
    },
    async queryBytes(sql, params, options) {
      const s = performance.now();
      const r = await inner.queryBytes(sql, params, options);
      note('bytes', sql, s);
      return r;
    },
    async *queryStream(sql, params, options) {
      const s = performance.now();
      let first = true;
      for await (const c of inner.queryStream(sql, params, options)) {
        if (first) note('stream-first', sql, s);
        first = false;
        yield c;
      }
      note('stream-end', sql, s);
    },
    async insertRaw(table, payload, options) {
      const s = performance.now();
      await inner.insertRaw(table, payload, options);
      note(`insert ${payload.length}B`, table, s);
    },
    close: () => inner.close(),
  };
}

const [dataDir, rowsText, plan, partRowsText] = process.argv.slice(2);
const rows = Number(rowsText);
const raw = ChdbExecutor.open({ path: dataDir ?? '' });
// ENTITY_INPUT=sql: the entity rows as an entity SELECT (nothing loaded into Node), else inline rows.
const entities: HistoricalRequest['entities'] =
  process.env.ENTITY_INPUT === 'sql'
    ? { kind: 'sql', sql: `SELECT ${JOIN_KEY}, event_ts FROM ${entityTable(rows)} ORDER BY n` }
    : await (async () => {
        const { keys, ts } = await loadEntityRows(
          raw,
          `SELECT ${JOIN_KEY}, toUnixTimestamp64Milli(event_ts) AS ts FROM ${entityTable(rows)} ORDER BY n`,
          JOIN_KEY,
        );
        return { kind: 'rows', keys: new Map([[JOIN_KEY, keys]]), eventTsMillis: ts, passthrough: [] } as const;
      })();
const log: string[] = [];
const executor = timed(raw, log);
console.log(`rss before ${gb(statusBytes('VmRSS'))} GB`);
const cpu = process.cpuUsage();
const started = performance.now();
let out = 0;
let nulls = 0;
let decodeMs = 0;
for await (const chunk of runHistorical(
  executor,
  DATABASE,
  {
    entities,
    features: resolvedAll(benchViews()),
    chunkRows: 65_536,
    format: 'arrow',
  },
  { plan: plan as HistoricalPlan, ...(partRowsText ? { partRows: Number(partRowsText) } : {}) },
)) {
  const d = performance.now();
  out += chunk.rowCount;
  nulls += tableFromIPC(chunk.arrowIpc ?? new Uint8Array()).getChild('hist_a__f0')?.nullCount ?? 0;
  decodeMs += performance.now() - d;
}
const used = process.cpuUsage(cpu);
if (process.env.PROFILE_LOG === '1') console.log(log.join('\n'));
console.log(`cpu by phase: ${[...phases].map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
console.log(
  `total ${((performance.now() - started) / 1000).toFixed(2)} s, rows ${out}, nulls ${nulls}, consumer ${(decodeMs / 1000).toFixed(2)} s, cpu ${((used.user + used.system) / 1e6).toFixed(1)} s, peak RSS ${gb(statusBytes('VmHWM'))} GB`,
);
await raw.close();
