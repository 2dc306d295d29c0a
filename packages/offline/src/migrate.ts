/**
 * Creates the tables of view versions and adds the columns a compatible registry change appended
 * (a new feature keeps the view's version, so its table must grow). Old versions' tables stay.
 */
import { TesseraError } from '@tessera/core';
import type { ClickHouseExecutor } from './executor.js';
import {
  addColumnsSql,
  createTableSql,
  offlineTablesOf,
  physicalTableName,
  type DdlOptions,
  type OfflineColumn,
  type ViewShape,
} from './ddl.js';

interface ExistingColumn {
  readonly table: string;
  readonly name: string;
  readonly type: string;
}

// system.columns prints types with a space after commas, as columnsOf writes them.
function sameType(existing: string, wanted: string): boolean {
  return existing.replace(/\s+/g, '') === wanted.replace(/\s+/g, '');
}

/**
 * Makes every view version's table exist with every column of the view: `CREATE TABLE IF NOT
 * EXISTS`, then `ALTER TABLE … ADD COLUMN IF NOT EXISTS` for missing columns. A column present
 * with another type is a breaking change the registry should have made a new version:
 * FAILED_PRECONDITION naming it.
 */
export async function ensureViewTables(
  executor: ClickHouseExecutor,
  views: readonly ViewShape[],
  options: DdlOptions,
): Promise<void> {
  if (views.length === 0) return;
  const tables = views.flatMap((view) =>
    offlineTablesOf(view).map((table) => ({ view, table, physical: physicalTableName(view, options, table.name) })),
  );
  const existing = await executor.queryJson<ExistingColumn>(
    'SELECT table, name, type FROM system.columns WHERE database = {database:String} AND table IN {tables:Array(String)}',
    { database: options.database, tables: tables.map((t) => t.physical) },
  );
  const byTable = new Map<string, Map<string, string>>();
  for (const column of existing) {
    let columns = byTable.get(column.table);
    if (columns === undefined) byTable.set(column.table, (columns = new Map<string, string>()));
    columns.set(column.name, column.type);
  }
  const created = new Set<ViewShape>();
  for (const { view, table, physical } of tables) {
    const present = byTable.get(physical);
    if (present === undefined) {
      // One CREATE … IF NOT EXISTS per table of the view, all at once (an event view's side table too).
      if (!created.has(view)) for (const sql of createTableSql(view, options)) await executor.command(sql);
      created.add(view);
      continue;
    }
    const missing: OfflineColumn[] = [];
    for (const column of table.columns) {
      const type = present.get(column.name);
      if (type === undefined) missing.push(column);
      else if (!sameType(type, column.type)) {
        throw new TesseraError(
          'FAILED_PRECONDITION',
          `offline table ${options.database}.${table.name} has column ${column.name} as ${type}, but view ` +
            `${view.name}@${view.version} needs ${column.type}; a type change must create a new view version`,
        );
      }
    }
    for (const sql of addColumnsSql(view, missing, options, table.name)) await executor.command(sql);
  }
}
