// Fault avoidance for producers (pure, injected clock): a broker group that failed a send, or
// answered slower than a threshold, is skipped by the queue selector for a while. When every
// broker is isolated the selector still picks one (a slow broker beats no broker).

/** A send slower than this marks the broker slow. */
const SLOW_THRESHOLD_MS_DEFAULT = 1_000;
/** How long a slow broker is skipped. */
const SLOW_ISOLATION_MS_DEFAULT = 5_000;
/** How long a broker that failed a send is skipped: long enough to ride out a restart. */
const FAILURE_ISOLATION_MS_DEFAULT = 10_000;
/** Brokers remembered at once; expired entries are pruned first, so this is never reached in practice. */
const FAULT_ENTRIES_MAX = 4_096;

interface FaultAvoidanceOptions {
  slowThresholdMs?: number;
  slowIsolationMs?: number;
  failureIsolationMs?: number;
  now?: () => number;
}

export class FaultAvoidance {
  private readonly isolatedUntil = new Map<string, number>();
  private readonly slowThresholdMs: number;
  private readonly slowIsolationMs: number;
  private readonly failureIsolationMs: number;
  private readonly now: () => number;

  constructor(options: FaultAvoidanceOptions = {}) {
    this.slowThresholdMs = options.slowThresholdMs ?? SLOW_THRESHOLD_MS_DEFAULT;
    this.slowIsolationMs = options.slowIsolationMs ?? SLOW_ISOLATION_MS_DEFAULT;
    this.failureIsolationMs = options.failureIsolationMs ?? FAILURE_ISOLATION_MS_DEFAULT;
    this.now = options.now ?? Date.now;
  }

  /** A send answered after `latencyMs`: slow marks the broker isolated, fast clears it. */
  recordSuccess(brokerName: string, latencyMs: number): void {
    if (latencyMs > this.slowThresholdMs) this.isolate(brokerName, this.slowIsolationMs);
    else this.isolatedUntil.delete(brokerName);
  }

  /** A send failed in a way that says the broker is unwell (unavailable, timed out, not master…). */
  recordFailure(brokerName: string): void {
    this.isolate(brokerName, this.failureIsolationMs);
  }

  isAvailable(brokerName: string): boolean {
    const until = this.isolatedUntil.get(brokerName);
    if (until === undefined) return true;
    if (this.now() >= until) {
      this.isolatedUntil.delete(brokerName);
      return true;
    }
    return false;
  }

  /** Brokers skipped right now, sorted (for logs and status). */
  isolatedBrokers(): string[] {
    return [...this.isolatedUntil.keys()].filter((b) => !this.isAvailable(b)).sort();
  }

  private isolate(brokerName: string, durationMs: number): void {
    const until = this.now() + durationMs;
    const previous = this.isolatedUntil.get(brokerName) ?? 0;
    if (!this.isolatedUntil.has(brokerName) && this.isolatedUntil.size >= FAULT_ENTRIES_MAX) this.prune();
    this.isolatedUntil.set(brokerName, Math.max(previous, until));
  }

  private prune(): void {
    const now = this.now();
    for (const [broker, until] of this.isolatedUntil) if (now >= until) this.isolatedUntil.delete(broker);
    // Still full: forget the entry that expires first.
    while (this.isolatedUntil.size >= FAULT_ENTRIES_MAX) {
      let first: string | undefined;
      let firstUntil = Number.POSITIVE_INFINITY;
      for (const [broker, until] of this.isolatedUntil) if (until < firstUntil) [first, firstUntil] = [broker, until];
      if (first === undefined) break;
      this.isolatedUntil.delete(first);
    }
  }
}
