import { describe, expect, it } from 'vitest';
import { needsOperator, RECONNECT_BACKOFF_BASE_MS, RECONNECT_BACKOFF_MAX_MS, reconnectDelayMs } from '../../../../broker/replication/reconnect-backoff.js';
import { ErrorCode } from '../../../../common/errors.js';

describe('slave reconnect backoff', () => {
  it('doubles from the base up to the maximum', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 30].map((failures) => reconnectDelayMs(failures, ErrorCode.SERVICE_UNAVAILABLE, 0));
    expect(delays).toEqual([200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
    expect(delays[0]).toBe(RECONNECT_BACKOFF_BASE_MS);
  });

  it('takes at most a quarter off at random', () => {
    expect(reconnectDelayMs(3, undefined, 0.999)).toBe(600);
    expect(reconnectDelayMs(3, undefined, 0.5)).toBe(700);
  });

  it('retries at once when nothing failed yet', () => {
    expect(reconnectDelayMs(0, undefined, 0)).toBe(0);
  });

  it('waits the longest for refusals only an operator can fix', () => {
    for (const code of [ErrorCode.HANDSHAKE_MISMATCH, ErrorCode.REPLICATION_DATA_GONE, ErrorCode.CORRUPT_RECORD]) {
      expect(needsOperator(code)).toBe(true);
      expect(reconnectDelayMs(1, code, 0)).toBe(RECONNECT_BACKOFF_MAX_MS);
    }
    expect(needsOperator(ErrorCode.TIMEOUT)).toBe(false);
  });
});
