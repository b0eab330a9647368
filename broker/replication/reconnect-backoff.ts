// How long a slave waits before it opens the next stream to its master (pure).
import { ErrorCode } from '../../common/errors.js';

/** First retry after a failure: fast enough that a master restart costs little lag. */
export const RECONNECT_BACKOFF_BASE_MS = 200;
/** Longest wait between attempts: a dead master is retried every 5 s, cheap for both sides. */
export const RECONNECT_BACKOFF_MAX_MS = 5_000;

/**
 * Refusals that no retry fixes until an operator acts (wrong settings, bytes gone, diverged logs):
 * retried at the longest backoff only, so that a fixed master is picked up without a slave restart.
 */
export function needsOperator(code: ErrorCode | undefined): boolean {
  return code === ErrorCode.HANDSHAKE_MISMATCH || code === ErrorCode.REPLICATION_DATA_GONE || code === ErrorCode.CORRUPT_RECORD;
}

/**
 * Delay before attempt number `failures` (1 = the first retry after a failure): doubling from the
 * base, capped at the maximum, with up to a quarter taken off at random (`random` in [0, 1)) so
 * that the slaves of a restarted master do not all return at the same instant.
 */
export function reconnectDelayMs(failures: number, lastCode: ErrorCode | undefined, random: number): number {
  if (needsOperator(lastCode)) return RECONNECT_BACKOFF_MAX_MS;
  if (failures <= 0) return 0;
  const exponent = Math.min(failures - 1, 16);
  const ceiling = Math.min(RECONNECT_BACKOFF_MAX_MS, RECONNECT_BACKOFF_BASE_MS * 2 ** exponent);
  return Math.round(ceiling * (1 - 0.25 * random));
}
