import { toColumn } from '@tessera/client';
import { Durability, type WriteTarget } from '@tessera/proto';

/** A purchase event of the rebuild tests: (customer_id, event time ms, amount, product). */
export type PurchaseRow = readonly [bigint, number, bigint, string];

/** The Write request of `rows` to the rebuild tests' `purchases` event view. */
export function purchasesWrite(
  rows: readonly PurchaseRow[],
  durability: Durability = Durability.DURABILITY_SYNC,
  target?: WriteTarget,
) {
  return {
    featureView: 'purchases',
    durability,
    ...(target === undefined ? {} : { target }),
    columns: {
      customer_id: toColumn(
        'int64',
        rows.map((r) => r[0]),
      ),
      amount: toColumn(
        'int64',
        rows.map((r) => r[2]),
      ),
      product: toColumn(
        'string',
        rows.map((r) => r[3]),
      ),
    },
    eventTimestamps: toColumn(
      'timestamp',
      rows.map((r) => r[1]),
    ),
  };
}
