// How much work a benchmark run may still start (pure, clock injected): a --count run hands out
// message slots until the count is used up (or its timeout passes); a --duration-s run hands them
// out until the deadline. Workers claim slots before each send, so a count run sends exactly
// --count messages however many workers share it. Also the e2e pacer's arithmetic.
import { assert } from '../../common/errors.js';
import type { StopCondition } from './options.js';
import type { StopReason } from './report.js';

export class WorkBudget {
  private claimed = 0;
  private stopReason: StopReason | undefined;
  private readonly deadlineMs: number;

  constructor(
    private readonly condition: StopCondition,
    private readonly now: () => number,
    readonly startedMs: number = now(),
  ) {
    this.deadlineMs = startedMs + (condition.kind === 'count' ? condition.timeoutMs : condition.durationMs);
  }

  /** Slots granted for up to `wanted` messages; 0 means stop. */
  claim(wanted: number): number {
    assert(Number.isInteger(wanted) && wanted >= 1, `claim needs a whole number ≥ 1, got ${wanted}`);
    if (this.stopped) return 0;
    let granted = wanted;
    if (this.condition.kind === 'count') granted = Math.min(wanted, this.condition.count - this.claimed);
    if (granted <= 0) {
      this.stop('count');
      return 0;
    }
    this.claimed += granted;
    return granted;
  }

  /** True once the run must start nothing new (and records why, the first time). */
  get stopped(): boolean {
    if (this.stopReason === undefined && this.now() >= this.deadlineMs) {
      this.stopReason = this.condition.kind === 'count' ? 'timeout' : 'duration';
    }
    return this.stopReason !== undefined;
  }

  /** Ends the run early (a signal, a drained backlog); the first reason given wins. */
  stop(reason: StopReason): void {
    this.stopReason ??= reason;
  }

  /** For count runs: has every slot been counted as done? */
  isCountReached(done: number): boolean {
    return this.condition.kind === 'count' && done >= this.condition.count;
  }

  get reason(): StopReason {
    return this.stopReason ?? (this.condition.kind === 'count' ? 'count' : 'duration');
  }

  get claimedCount(): number {
    return this.claimed;
  }

  /** Milliseconds until the deadline (0 when past). */
  remainingMs(): number {
    return Math.max(0, this.deadlineMs - this.now());
  }
}

/**
 * The e2e pacer: how many sends are due at `elapsedMs` into a run at `ratePerS` when `scheduled`
 * were already issued. Sends are due at slot i × (1000 / rate) ms, i = 0, 1, …
 */
export function slotsDue(elapsedMs: number, ratePerS: number, scheduled: number): number {
  if (elapsedMs < 0) return 0;
  const dueTotal = Math.floor((elapsedMs * ratePerS) / 1000) + 1;
  return Math.max(0, dueTotal - scheduled);
}

/** The intended start time of slot i, relative to the run's start. */
export function slotTimeMs(slot: number, ratePerS: number): number {
  return (slot * 1000) / ratePerS;
}
