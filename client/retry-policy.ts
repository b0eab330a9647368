// Which failures are worth trying again, and where: a function of the error code only (STYLE.md),
// never of message text. One table for the whole client.
import { ConveyorError, ErrorCode } from '../common/errors.js';

/**
 * The process at the other end could not answer (down, restarting, stopping, overloaded, too
 * slow): the same request may succeed at another address.
 */
export function isUnreachable(code: ErrorCode): boolean {
  switch (code) {
    case ErrorCode.SERVICE_UNAVAILABLE:
    case ErrorCode.TIMEOUT:
    case ErrorCode.SHUTTING_DOWN:
      return true;
    default:
      return false;
  }
}

/**
 * A send that failed with this code may be retried on another broker group, with the same
 * message id: the broker was unreachable, is no longer master, is out of disk, or our route was
 * stale. Everything else (bad names, sizes, unknown topic…) would fail again anywhere.
 */
export function isRetryableSendError(code: ErrorCode): boolean {
  if (isUnreachable(code)) return true;
  switch (code) {
    case ErrorCode.NOT_MASTER:
    case ErrorCode.STALE_ROUTE:
    case ErrorCode.DISK_FULL:
    case ErrorCode.TOPIC_NOT_WRITABLE:
    case ErrorCode.NO_ROUTE:
      return true;
    default:
      return false;
  }
}

/** After this code the route of the topic is re-fetched from a nameserver before the next use. */
export function refreshesRoute(code: ErrorCode): boolean {
  switch (code) {
    case ErrorCode.NOT_MASTER:
    case ErrorCode.STALE_ROUTE:
    case ErrorCode.TOPIC_NOT_FOUND:
    case ErrorCode.TOPIC_NOT_WRITABLE:
    case ErrorCode.TOPIC_NOT_READABLE:
    case ErrorCode.QUEUE_NOT_FOUND:
    case ErrorCode.NO_ROUTE:
      return true;
    default:
      return isUnreachable(code);
  }
}

/** The code of anything thrown: ConveyorError's own, INTERNAL otherwise. */
export function codeOf(err: unknown): ErrorCode {
  return err instanceof ConveyorError ? err.code : ErrorCode.INTERNAL;
}
