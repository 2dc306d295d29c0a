import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import init, {
  Compression,
  Table as WasmTable,
  WriterPropertiesBuilder,
  readParquet,
  writeParquet,
} from 'parquet-wasm/esm';

let ready: Promise<unknown> | undefined;

/** parquet-wasm's Node build is CommonJS inside an ESM package and does not load; the ESM build does, given its wasm. */
function loadParquet(): Promise<unknown> {
  ready ??= (async () => {
    const wasm = createRequire(import.meta.url).resolve('parquet-wasm/esm/parquet_wasm_bg.wasm');
    await init({ module_or_path: await readFile(wasm) });
  })();
  return ready;
}

/** Reads a Parquet file into an Arrow table. */
export async function readParquetFile(path: string): Promise<Table> {
  await loadParquet();
  const wasmTable = readParquet(await readFile(path));
  return tableFromIPC(wasmTable.intoIPCStream());
}

/** Encodes an Arrow table as Parquet (zstd). */
export async function toParquet(table: Table): Promise<Uint8Array> {
  await loadParquet();
  const properties = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties);
}
