/**
 * Small SQL text helpers of the historical path. Only identifiers ever enter SQL text here:
 * registry identifiers through `quoteIdentifier` (ddl.ts), and the column names a user's entity
 * SELECT returns through {@link quoteAnyIdentifier} (the user wrote that SELECT themselves).
 */

/** Backquotes any column name, escaping backslashes and backquotes. */
export function quoteAnyIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/** A random suffix for per-request table names (letters and digits only). */
export function randomSuffix(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
