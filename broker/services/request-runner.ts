// The part every Broker request shares, whether it came as a unary call or as a frame on a stream:
// a gate that refuses new work once shutdown began (SHUTTING_DOWN) and counts in-flight calls so
// shutdown can wait for them, and a runner that takes each request through the gate, records its
// latency and result code, and logs what failed unexpectedly.
import { ConveyorError, ErrorCode, isConveyorError } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { BrokerMetrics } from '../metrics.js';

/** Admits calls until closed; tells when the admitted ones have finished. */
export class RequestGate {
  private count = 0;
  private closed = false;
  private waiters: Array<() => void> = [];
  private closeListeners: Array<() => void> = [];

  get inFlight(): number {
    return this.count;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Admits a call or throws SHUTTING_DOWN. */
  enter(): void {
    if (this.closed) throw new ConveyorError(ErrorCode.SHUTTING_DOWN, 'this broker is shutting down and takes no new requests; retry on another broker', {});
    this.count += 1;
  }

  leave(): void {
    this.count -= 1;
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  /** Calls `listener` once when the gate closes (at once if it is closed); returns the unsubscribe. */
  onClose(listener: () => void): () => void {
    if (this.closed) {
      listener();
      return () => undefined;
    }
    this.closeListeners.push(listener);
    return () => {
      const at = this.closeListeners.indexOf(listener);
      if (at >= 0) this.closeListeners.splice(at, 1);
    };
  }

  /** Resolves true once no call is in flight, false if timeoutMs passed first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/**
 * Runs one request through the gate, the metrics and the error log: the part every Broker request
 * shares, whether it came as a unary call or as a frame on a stream (stream-handlers.ts).
 */
export type RequestRunner = <T>(method: string, fn: () => Promise<T> | T) => Promise<T>;

export function createRequestRunner(gate: RequestGate, metrics: BrokerMetrics, log: Logger): RequestRunner {
  const { requests } = metrics;
  return async <T>(method: string, fn: () => Promise<T> | T): Promise<T> => {
    const startedMs = performance.now();
    try {
      gate.enter();
    } catch (err) {
      requests.count(method, 'SHUTTING_DOWN');
      throw err;
    }
    try {
      const response = await fn();
      requests.count(method, 'OK');
      return response;
    } catch (err) {
      if (isConveyorError(err)) {
        requests.count(method, err.codeName);
        log.debug({ method, code: err.codeName, err: err.message }, 'request refused');
      } else {
        requests.count(method, 'INTERNAL');
        log.error({ method, err }, 'request failed unexpectedly');
      }
      throw err;
    } finally {
      requests.observeMs(method, performance.now() - startedMs);
      gate.leave();
    }
  };
}
