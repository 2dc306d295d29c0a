/** Parses a JSONEachRow result: one JSON object per line. */
export function parseJsonEachRow<T>(bytes: Uint8Array): T[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const rows: T[] = [];
  for (const line of text.split('\n')) {
    if (line !== '') rows.push(JSON.parse(line) as T);
  }
  return rows;
}
