import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TesseraError } from '@tessera/core';
import { MAX_STATUS_DETAILS_CHARS, takeInternalError, toGrpcStatus } from '../src/grpc-status.js';

describe('toGrpcStatus', () => {
  afterEach(() => vi.restoreAllMocks());

  it('answers INTERNAL with a generic message and a correlation id, and hands the real error over under that id', () => {
    const answers = [
      toGrpcStatus(new Error('ENOENT: /var/lib/tessera/secret.mdb')),
      toGrpcStatus(new TesseraError('INTERNAL', 'Row codec: feature 3 (double) cannot hold a string')),
    ];
    for (const answer of answers) {
      expect(answer.code).toBe(status.INTERNAL);
      expect(answer.details).not.toMatch(/secret|Row codec/);
      expect(answer.metadata?.toJSON()).toEqual({});
      const id = /\(id ([0-9a-f]{12})\)/.exec(answer.details ?? '')?.[1];
      expect(id, answer.details).toBeDefined();
      const internal = takeInternalError(answer.metadata!);
      expect(internal?.id).toBe(id);
      expect(String(internal?.error)).toMatch(/secret|Row codec/);
      // Logged once: the interceptor takes it, nothing is left for a second taker.
      expect(takeInternalError(answer.metadata!)).toBeUndefined();
    }
    expect(answers[0]?.details).not.toBe(answers[1]?.details);
  });

  it('cuts any status message to its cap, with its length', () => {
    const answer = toGrpcStatus(new TesseraError('INVALID_ARGUMENT', `bad: ${'y'.repeat(50_000)}`));
    expect(answer.code).toBe(status.INVALID_ARGUMENT);
    expect(answer.details?.length).toBeLessThan(MAX_STATUS_DETAILS_CHARS + 30);
    expect(answer.details).toContain('(50005 chars)');
  });
});
