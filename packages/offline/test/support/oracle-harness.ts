/**
 * Test plumbing of the historical tests: a chDB engine per test file, view tables, feature rows
 * inserted with chosen `created_ts`, and a runner that collects a whole training set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import type {
  FeatureDef,
  FeatureValue,
  HistoricalChunk,
  HistoricalRequest,
  JoinKeySpec,
  RegisteredView,
  TypedColumn,
} from '@tessera/core';
import {
  ChdbExecutor,
  createDatabaseSql,
  createTableSql,
  insertOfflineBatch,
  qualifiedName,
  tableName,
} from '../../src/index.js';
import { runHistorical, type HistoricalOptions } from '../../src/historical/run.js';
import type { OracleFeatureRow } from './oracle.js';
import { feature, registeredView, resolvedAll } from './views.js';

export { feature, resolvedAll };

/** A registered view version with a TTL (`registeredView` with `ttlSeconds`). */
export function view(
  name: string,
  joinKeys: readonly JoinKeySpec[],
  features: readonly FeatureDef[],
  ttlSeconds = 0,
  version = 1,
): RegisteredView {
  return { ...registeredView(name, joinKeys, features, version), ttlSeconds };
}

export interface Engine {
  readonly executor: ChdbExecutor;
  readonly database: string;
  close(): Promise<void>;
}

export async function openEngine(prefix: string): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
  const executor = ChdbExecutor.open({ path: dir });
  const database = `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  await executor.command(createDatabaseSql({ database }));
  return {
    executor,
    database,
    close: async () => {
      await executor.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
      await executor.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function createTables(engine: Engine, views: readonly RegisteredView[]): Promise<void> {
  for (const v of views) {
    for (const sql of createTableSql(v, { database: engine.database })) await engine.executor.command(sql);
  }
}

export async function truncate(engine: Engine, views: readonly RegisteredView[]): Promise<void> {
  for (const v of views)
    await engine.executor.command(`TRUNCATE TABLE ${qualifiedName(engine.database, tableName(v))}`);
}

/** Inserts feature rows, one insert per distinct created_ts (the write path sets it per batch). */
export async function insertRows(engine: Engine, v: RegisteredView, rows: readonly OracleFeatureRow[]): Promise<void> {
  const byCreated = new Map<bigint, OracleFeatureRow[]>();
  for (const row of rows) {
    const list = byCreated.get(row.createdTsMicros) ?? [];
    list.push(row);
    byCreated.set(row.createdTsMicros, list);
  }
  for (const [created, group] of byCreated) {
    await insertOfflineBatch(
      engine.executor,
      engine.database,
      v,
      {
        joinKeyValues: group.map((r) => r.keys),
        eventTsMillis: Float64Array.from(group.map((r) => r.eventTsMillis)),
        featureValues: v.features.map((_, f) => group.map((r) => r.values[f] ?? null)),
      },
      { createdTsMicros: created },
    );
  }
}

/** Runs a request and returns the chunks, checking firstRow/rowCount continuity. */
export async function collect(
  engine: Engine,
  request: HistoricalRequest,
  options?: HistoricalOptions,
): Promise<HistoricalChunk[]> {
  const chunks: HistoricalChunk[] = [];
  for await (const chunk of runHistorical(engine.executor, engine.database, request, options)) chunks.push(chunk);
  return chunks;
}

/** Concatenates the columns of chunks. */
export function concatColumns(chunks: readonly HistoricalChunk[]): TypedColumn[] {
  const first = chunks[0]?.columns ?? [];
  return first.map((column, c) => ({
    name: column.name,
    type: column.type,
    values: chunks.flatMap((chunk) => [...((chunk.columns ?? [])[c]?.values ?? [])]),
  }));
}

/** Reads the Arrow chunks back with apache-arrow into columns of core FeatureValues. */
export function arrowToColumns(chunks: readonly HistoricalChunk[]): { names: string[]; values: FeatureValue[][] } {
  const tables = chunks.map((chunk) => tableFromIPC(chunk.arrowIpc ?? new Uint8Array()));
  const names = tables[0]?.schema.fields.map((f) => f.name) ?? [];
  const values = names.map((_, c) =>
    tables.flatMap((table) => {
      const vector = table.getChildAt(c);
      const out: FeatureValue[] = [];
      for (let i = 0; i < table.numRows; i += 1) {
        const value = vector?.get(i) as unknown;
        if (value === null || value === undefined) out.push(null);
        else if (typeof value === 'object' && value !== null && 'toArray' in value) {
          const array = (value as { toArray(): unknown }).toArray();
          out.push((Array.isArray(array) ? array : (array as Float32Array).slice()) as FeatureValue);
        } else out.push(value as FeatureValue);
      }
      return out;
    }),
  );
  return { names, values };
}
