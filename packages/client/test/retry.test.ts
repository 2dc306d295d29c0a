import { describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { fromServiceError, TesseraClientError, withRetry } from '../src/index.js';

function status(code: number, details: string, problems?: unknown[]): ServiceError {
  const metadata = new Metadata();
  if (problems) metadata.set('tessera-problems-bin', Buffer.from(JSON.stringify(problems)));
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

const noWait = { maxAttempts: 4, initialBackoffMillis: 10, maxBackoffMillis: 100 };
const farDeadline = (): number => Date.now() + 60_000;

describe('fromServiceError', () => {
  it('keeps the status code, its name, the message and the problem list', () => {
    const problems = [
      { file: 'write v@1', path: 'row 0, column a', message: '-1 is below min 0' },
      { file: 'write v@1', path: 'row 1, column b', message: '9 is above max 5' },
    ];
    const error = fromServiceError(status(3, 'Write to v@1 rejected: row 0, column a', problems));
    expect(error).toBeInstanceOf(TesseraClientError);
    expect(error.name).toBe('TesseraClientError');
    expect([error.code, error.grpcCode, error.grpcCodeName, error.message]).toEqual([
      'INVALID_ARGUMENT',
      3,
      'INVALID_ARGUMENT',
      'Write to v@1 rejected: row 0, column a',
    ]);
    expect(error.problems).toEqual(problems);
    expect(error.details).toEqual(problems);
  });

  it('tells CANCELLED from UNAVAILABLE by its gRPC code, though both have the code UNAVAILABLE', () => {
    const cancelled = fromServiceError(status(1, 'cancelled'));
    expect([cancelled.code, cancelled.grpcCodeName]).toEqual(['UNAVAILABLE', 'CANCELLED']);
  });

  it('reads an unparsable problem trailer as no problems', () => {
    const error = status(3, 'bad');
    error.metadata.set('tessera-problems-bin', Buffer.from('{not json'));
    expect(fromServiceError(error).problems).toEqual([]);
  });
});

describe('withRetry', () => {
  it('retries UNAVAILABLE until an attempt succeeds', async () => {
    let calls = 0;
    const result = await withRetry(
      noWait,
      farDeadline(),
      () => {
        calls++;
        return calls < 3 ? Promise.reject(fromServiceError(status(14, 'down'))) : Promise.resolve('ok');
      },
      () => 0,
    );
    expect([result, calls]).toEqual(['ok', 3]);
  });

  it('gives up after maxAttempts and says how many attempts it made', async () => {
    let calls = 0;
    const error = await withRetry(
      noWait,
      farDeadline(),
      () => {
        calls++;
        return Promise.reject(fromServiceError(status(14, 'down')));
      },
      () => 0,
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(TesseraClientError);
    expect((error as TesseraClientError).attempts).toBe(4);
  });

  it.each([
    [1, 'CANCELLED'],
    [3, 'INVALID_ARGUMENT'],
    [4, 'DEADLINE_EXCEEDED'],
    [5, 'NOT_FOUND'],
    [8, 'RESOURCE_EXHAUSTED'],
    [13, 'INTERNAL'],
  ])('never retries status %i (%s)', async (code, name) => {
    let calls = 0;
    const error = await withRetry(
      noWait,
      farDeadline(),
      () => {
        calls++;
        return Promise.reject(fromServiceError(status(code, 'no')));
      },
      () => 0,
    ).catch((e: unknown) => e as TesseraClientError);
    expect([calls, error.grpcCodeName]).toEqual([1, name]);
  });

  it('never retries an error that is not a call status', async () => {
    let calls = 0;
    await expect(
      withRetry(noWait, farDeadline(), () => {
        calls++;
        return Promise.reject(new Error('a bug'));
      }),
    ).rejects.toThrow('a bug');
    expect(calls).toBe(1);
  });

  it('does not wait past the deadline of the call', async () => {
    let calls = 0;
    // The deadline has passed: the first failure is final, whatever maxAttempts says.
    const error = await withRetry(
      { ...noWait, maxAttempts: 10 },
      Date.now() - 1,
      () => {
        calls++;
        return Promise.reject(fromServiceError(status(14, 'down')));
      },
      () => 0.5,
    ).catch((e: unknown) => e as TesseraClientError);
    expect([calls, error.attempts]).toEqual([1, 1]);
  });

  it('passes every attempt the one deadline of the call', async () => {
    const deadline = farDeadline();
    const seen: number[] = [];
    await withRetry(
      noWait,
      deadline,
      (d) => {
        seen.push(d.getTime());
        return seen.length < 2 ? Promise.reject(fromServiceError(status(14, 'down'))) : Promise.resolve(1);
      },
      () => 0,
    );
    expect(seen).toEqual([deadline, deadline]);
  });
});
