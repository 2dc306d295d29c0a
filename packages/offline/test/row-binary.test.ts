import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineRow } from '@tessera/core';
import { ChdbExecutor } from '../src/index.js';
import { readOfflineRows } from '../src/row-binary.js';

// RowBinary made by the real engine, fed to the reader in pieces of every size, so rows cut across
// chunk boundaries at every byte are read exactly as from one buffer.

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-row-binary-'));
let executor: ChdbExecutor;
beforeAll(() => {
  executor = ChdbExecutor.open({ path: dataDir });
});
afterAll(async () => {
  await executor.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const SQL = `
SELECT toInt64(number) - 3 AS k, 'key-' || toString(number) AS s, toDateTime64(1700000000 + number, 3, 'UTC') AS ts,
  if(number % 2 = 0, NULL, toInt64(number) * -1000000000000) AS i,
  if(number % 3 = 0, NULL, number / 7) AS d,
  if(number % 4 = 0, NULL, repeat('é', toUInt32(number))) AS str,
  toNullable(number % 2 = 1) AS b,
  if(number = 2, NULL, toDateTime64(1600000000 + number, 3, 'UTC')) AS t,
  toNullable(unhex('00ff' || hex(number))) AS bytes,
  arrayMap(x -> toFloat32(x / 3), range(number % 4)) AS f32, toUInt8(number % 5 = 0) AS f32_null,
  arrayMap(x -> x / 11, range(number % 3)) AS f64, toUInt8(0) AS f64_null,
  arrayMap(x -> toInt64(x) - toInt64(9223372036854775807), range(number % 2)) AS i64, toUInt8(0) AS i64_null,
  arrayMap(x -> 'v' || toString(x), range(number % 3)) AS strs, toUInt8(number = 4) AS strs_null
FROM numbers(40)`;

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) {
    // A turn of the event loop between chunks, as from a real stream.
    await Promise.resolve();
    yield bytes.subarray(i, i + size);
  }
}

async function readAll(source: AsyncIterable<Uint8Array>, batchRows: number): Promise<OfflineRow[]> {
  const rows: OfflineRow[] = [];
  for await (const batch of readOfflineRows(
    source,
    ['int64', 'string'],
    [
      'int64',
      'double',
      'string',
      'bool',
      'timestamp',
      'bytes',
      'float_list',
      'double_list',
      'int64_list',
      'string_list',
    ],
    batchRows,
  )) {
    rows.push(...batch);
  }
  return rows;
}

describe('readOfflineRows', () => {
  it('reads every type exactly, whatever the chunk size', async () => {
    const bytes = await executor.queryBytes(SQL, undefined, { format: 'RowBinary' });
    const whole = await readAll(pieces(bytes, bytes.length), 1_000);
    expect(whole).toHaveLength(40);
    expect(whole[5]).toEqual({
      keys: [2n, 'key-5'],
      eventTsMillis: 1_700_000_005_000,
      features: [
        -5_000_000_000_000n,
        5 / 7,
        'ééééé',
        true,
        1_600_000_005_000,
        Uint8Array.from([0, 255, 0x05]),
        null, // f32_null = 1 on every fifth row
        Float64Array.from([0, 1 / 11]),
        BigInt64Array.from([-9223372036854775807n]),
        ['v0', 'v1'],
      ],
    });
    expect(whole[6]?.features[6]).toEqual(Float32Array.from([0, 1 / 3]));
    expect(whole[0]?.features.slice(0, 3)).toEqual([null, null, null]);
    expect(whole[2]?.features[4]).toBeNull();
    expect(whole[4]?.features[9]).toBeNull();
    for (const size of [1, 2, 3, 7, 64]) {
      expect(await readAll(pieces(bytes, size), 3)).toEqual(whole);
    }
  });

  it('fails, never returns a short result, when the bytes end inside a row', async () => {
    const bytes = await executor.queryBytes(SQL, undefined, { format: 'RowBinary' });
    await expect(readAll(pieces(bytes.subarray(0, bytes.length - 3), 100), 10)).rejects.toThrow(/ended inside a row/);
  });
});
