import { describe, expect, it } from 'vitest';
import { isTesseraError } from '@tessera/core';
import type { RegisteredView } from '@tessera/core';
import { fromColumn, toColumn } from '@tessera/wire';
import { FeatureStatus, ValueType, WriteTarget } from '@tessera/proto';
import {
  feastTimestampText,
  floatText,
  formatReadResponse,
  frameToWrite,
  parseReadBody,
  pushTarget,
  type FeastExpiredMode,
} from '../src/feast/feast-json.js';

const VIEW: RegisteredView = {
  id: 1,
  version: 2,
  name: 'driver_stats',
  entities: ['driver'],
  joinKeys: [{ name: 'driver_id', type: 'int64' }],
  features: [
    {
      name: 'conv_rate',
      type: 'double',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
    {
      name: 'embedding',
      type: 'float_list',
      dimension: 0,
      constraints: { notNull: false, allowNaN: false },
      description: '',
      tags: {},
    },
  ],
  ttlSeconds: 86_400,
  owner: '',
  tags: {},
  description: '',
  createdAtMillis: 0,
  updatedAtMillis: 0,
};

function invalidMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isTesseraError(error) && error.code === 'INVALID_ARGUMENT') return error.message;
    throw error;
  }
  throw new Error('no error');
}

describe('Feast JSON', () => {
  it('reads entity rows as typed join key columns, and a feature service before features', () => {
    const read = parseReadBody({
      features: ['driver_stats:conv_rate'],
      feature_service: 'driver_model',
      entities: { driver_id: [1001, 1002], city: ['Lyon', 'Oslo'] },
      full_feature_names: true,
    });
    expect(read.request.featureService).toBe('driver_model');
    expect(read.request.features).toEqual([]);
    expect(fromColumn(read.request.entities['driver_id']!)).toEqual([1001n, 1002n]);
    expect(fromColumn(read.request.entities['city']!)).toEqual(['Lyon', 'Oslo']);
    expect(read.fullFeatureNames).toBe(true);
  });

  it('refuses integers JSON cannot carry exactly, and mixed key values, naming the entity', () => {
    expect(invalidMessage(() => parseReadBody({ features: ['v:f'], entities: { driver_id: [2 ** 60] } }))).toMatch(
      /entities\.driver_id\[0\].*2\^53/,
    );
    expect(invalidMessage(() => parseReadBody({ features: ['v:f'], entities: { driver_id: [1, 'x'] } }))).toMatch(
      /entities\.driver_id\[1\]/,
    );
  });

  /** One double feature over three entities: present (NaN), not found, expired (0.75 kept or nulled). */
  function answer(expiredValue: number | null, expired: FeastExpiredMode): unknown {
    const read = parseReadBody({
      features: ['driver_stats:conv_rate'],
      entities: { driver_id: [7, 8, 9] },
      full_feature_names: true,
    });
    const text = formatReadResponse(
      read,
      {
        features: [
          {
            ref: 'driver_stats@2:conv_rate',
            type: ValueType.VALUE_TYPE_DOUBLE,
            values: toColumn('double', [Number.NaN, null, expiredValue]),
            statuses: [
              FeatureStatus.FEATURE_STATUS_PRESENT,
              FeatureStatus.FEATURE_STATUS_NOT_FOUND,
              FeatureStatus.FEATURE_STATUS_EXPIRED,
            ],
            eventTimestamps: [1_700_000_000_250n, 0n, 1_600_000_000_000n],
          },
        ],
      },
      expired,
    );
    return JSON.parse(text);
  }

  const KEYS = {
    values: [7, 8, 9],
    statuses: ['PRESENT', 'PRESENT', 'PRESENT'],
    event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
  };
  const TIMES = ['2023-11-14T22:13:20.250Z', '1970-01-01T00:00:00Z', '2020-09-13T12:26:40Z'];

  it("answers in the shape of Feast's feature server: an expired value OUTSIDE_MAX_AGE in outside-max-age", () => {
    expect(answer(null, 'outside-max-age')).toEqual({
      metadata: { feature_names: ['driver_id', 'driver_stats__conv_rate'] },
      results: [
        KEYS,
        { values: ['NaN', null, null], statuses: ['PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'], event_timestamps: TIMES },
      ],
    });
    expect(feastTimestampText(1_600_000_000_000)).toBe('2020-09-13T12:26:40Z');
  });

  it('writes every double as Python does, with a fraction or an exponent, so the SDK reads a float back', () => {
    expect([0, 2, -3, 1e16, 0.5, 1e21, 1.5e-7, -0].map(floatText)).toEqual([
      '0.0',
      '2.0',
      '-3.0',
      '10000000000000000.0',
      '0.5',
      '1e+21',
      '1.5e-7',
      '-0.0',
    ]);
    expect([Number.NaN, Infinity, -Infinity].map(floatText)).toEqual(['"NaN"', '"Infinity"', '"-Infinity"']);
  });

  it("serves an expired value as PRESENT in serve-stale, as Feast's Python feature server does", () => {
    expect(answer(0.75, 'serve-stale')).toEqual({
      metadata: { feature_names: ['driver_id', 'driver_stats__conv_rate'] },
      results: [
        KEYS,
        { values: ['NaN', null, 0.75], statuses: ['PRESENT', 'NOT_FOUND', 'PRESENT'], event_timestamps: TIMES },
      ],
    });
  });

  it('turns a write frame into one Write of the view, naive times meaning UTC', () => {
    const write = frameToWrite(
      VIEW,
      {
        driver_id: [1, '9007199254740993'],
        conv_rate: [0.5, null],
        embedding: [[1, 2], null],
        event_timestamp: ['2026-01-01T00:00:00', '2026-01-01T01:00:00+01:00'],
        created: [null, null],
      },
      WriteTarget.WRITE_TARGET_ONLINE,
      'write-to-online-store driver_stats',
    );
    expect(write.featureView).toBe('driver_stats');
    expect(write.target).toBe(WriteTarget.WRITE_TARGET_ONLINE);
    expect(fromColumn(write.columns['driver_id']!)).toEqual([1n, 9_007_199_254_740_993n]);
    expect(fromColumn(write.columns['conv_rate']!)).toEqual([0.5, null]);
    expect(fromColumn(write.eventTimestamps!)).toEqual([Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1)]);
    expect(Object.keys(write.columns).sort()).toEqual(['conv_rate', 'driver_id', 'embedding']);
  });

  it('names the column and row of a frame it cannot write', () => {
    const where = 'push driver_push → driver_stats';
    expect(
      invalidMessage(() =>
        frameToWrite(VIEW, { driver_id: [1], speed: [3], event_timestamp: ['2026-01-01T00:00:00'] }, 1, where),
      ),
    ).toMatch(/df\.speed is not a join key or feature of driver_stats@2/);
    expect(
      invalidMessage(() =>
        frameToWrite(VIEW, { driver_id: [1], conv_rate: ['fast'], event_timestamp: ['2026-01-01T00:00:00'] }, 1, where),
      ),
    ).toMatch(/df\.conv_rate\[0\]: "fast" is not a double value/);
    expect(invalidMessage(() => frameToWrite(VIEW, { driver_id: [1] }, 1, where))).toMatch(/no event_timestamp column/);
    expect(
      invalidMessage(() =>
        frameToWrite(VIEW, { driver_id: [1, 2], event_timestamp: ['2026-01-01T00:00:00'] }, 1, where),
      ),
    ).toMatch(/has 1 rows, other columns have 2/);
  });

  it("maps Feast's push modes, and refuses others with Feast's message", () => {
    expect(pushTarget(undefined)).toBe(WriteTarget.WRITE_TARGET_ONLINE);
    expect(pushTarget('offline')).toBe(WriteTarget.WRITE_TARGET_OFFLINE);
    expect(pushTarget('online_and_offline')).toBe(WriteTarget.WRITE_TARGET_ONLINE_AND_OFFLINE);
    expect(invalidMessage(() => pushTarget('both'))).toMatch(/not a supported push format/);
  });
});
