/** The part of an offline executor (`@tessera/offline`'s QueryExecutor) these helpers use. */
export interface JsonQueryEngine {
  queryJson<T>(
    sql: string,
    params?: Record<string, unknown>,
    options?: { settings?: Record<string, unknown> },
  ): Promise<T[]>;
}

/** The checks that run on a caller's SELECT before the query itself, after the executor's query-id comment. */
const CHECK_QUERY = String.raw`^\s*(/\*.*?\*/\s*)?(EXPLAIN|DESCRIBE)\b`;

/**
 * How many queries of the engine hold `marker` in their text, other than this one. Not the checks
 * that run before the query itself — the guard's `formatQuerySingleLine` (chDB shows its bound text)
 * and `EXPLAIN AST`, the entity SELECT's `DESCRIBE` —: each shows up for a moment first, and a wait
 * for "running" ended on them too early.
 */
export async function runningQueries(engine: JsonQueryEngine, marker: string): Promise<number> {
  const rows = await engine.queryJson<{ n: string }>(
    'SELECT toString(count()) AS n FROM system.processes WHERE position(query, {m:String}) > 0 ' +
      "AND NOT match(query, {check:String}) AND position(query, 'formatQuerySingleLine') = 0 AND query_id != queryID()",
    { m: marker, check: CHECK_QUERY },
    { settings: {} },
  );
  return Number(rows[0]?.n ?? 0);
}
