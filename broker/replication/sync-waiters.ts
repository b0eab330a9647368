// The waiter table of sync replication (pure): sends waiting for a slave to confirm a physical
// offset. Settled by offset (an acknowledgement covers every waiter at or below it) or by deadline
// (the clock passed it), whichever comes first. Two arrays sorted by offset and by deadline, with
// lazy removal: both keys grow with time, so inserts land at the end and settling takes a prefix.
import { assert } from '../../common/errors.js';

interface Waiter<R> {
  physicalOffsetEnd: number;
  deadlineMs: number;
  resolve: (result: R) => void;
  settled: boolean;
}

/** Inserts keeping `list` sorted by `key` (stable: equal keys keep arrival order). */
function insertSorted<R>(list: Array<Waiter<R>>, waiter: Waiter<R>, key: (w: Waiter<R>) => number): void {
  const value = key(waiter);
  let low = 0;
  let high = list.length;
  const last = list[high - 1];
  if (last === undefined || key(last) <= value) {
    list.push(waiter);
    return;
  }
  while (low < high) {
    const middle = (low + high) >>> 1;
    const item = list[middle];
    if (item !== undefined && key(item) <= value) low = middle + 1;
    else high = middle;
  }
  list.splice(low, 0, waiter);
}

export class SyncWaiters<R> {
  private byOffset: Array<Waiter<R>> = [];
  private byDeadline: Array<Waiter<R>> = [];
  private live = 0;

  constructor(readonly waitersMax: number) {
    assert(waitersMax >= 1, 'SyncWaiters needs room for one waiter');
  }

  /** Waiters not yet settled. */
  get size(): number {
    return this.live;
  }

  get full(): boolean {
    return this.live >= this.waitersMax;
  }

  /** Adds a waiter; the caller checks `full` first (adding past the limit is a programming error). */
  add(physicalOffsetEnd: number, deadlineMs: number): Promise<R> {
    assert(!this.full, 'sync waiter table full');
    return new Promise<R>((resolve) => {
      const waiter: Waiter<R> = { physicalOffsetEnd, deadlineMs, resolve, settled: false };
      insertSorted(this.byOffset, waiter, (w) => w.physicalOffsetEnd);
      insertSorted(this.byDeadline, waiter, (w) => w.deadlineMs);
      this.live += 1;
    });
  }

  /** Settles with `result` every waiter whose offset end is at or below `physicalOffset`. */
  settleUpTo(physicalOffset: number, result: R): number {
    let taken = 0;
    while (taken < this.byOffset.length && (this.byOffset[taken]?.physicalOffsetEnd ?? Infinity) <= physicalOffset) taken += 1;
    const settled = this.settle(this.byOffset.splice(0, taken), result);
    this.compact();
    return settled;
  }

  /** Settles with `result` every waiter whose deadline is at or before `nowMs`. */
  expire(nowMs: number, result: R): number {
    let taken = 0;
    while (taken < this.byDeadline.length && (this.byDeadline[taken]?.deadlineMs ?? Infinity) <= nowMs) taken += 1;
    const settled = this.settle(this.byDeadline.splice(0, taken), result);
    this.compact();
    return settled;
  }

  /** Settles every waiter with `result`. */
  settleAll(result: R): number {
    const settled = this.settle(this.byOffset, result);
    this.byOffset = [];
    this.byDeadline = [];
    return settled;
  }

  /**
   * The earliest deadline of an unsettled waiter, if any. Waiters settled by offset (the usual end)
   * are dropped from the front of the deadline order here, so that the next call does not step
   * over them again: asked once per sync send, this stays O(1) amortized instead of walking up to
   * 2 × max(live, 64) settled entries each time.
   */
  nextDeadlineMs(): number | undefined {
    let settled = 0;
    while (settled < this.byDeadline.length && this.byDeadline[settled]!.settled) settled += 1;
    if (settled > 0) this.byDeadline.splice(0, settled);
    return this.byDeadline[0]?.deadlineMs;
  }

  /** Entries held in the deadline order, settled ones included (tests bound the leftovers). */
  get deadlineEntries(): number {
    return this.byDeadline.length;
  }

  private settle(waiters: ReadonlyArray<Waiter<R>>, result: R): number {
    let count = 0;
    for (const waiter of waiters) {
      if (waiter.settled) continue;
      waiter.settled = true;
      this.live -= 1;
      count += 1;
      waiter.resolve(result);
    }
    return count;
  }

  /** Drops settled entries left behind in the other array once they outnumber the live ones. */
  private compact(): void {
    const limit = 2 * Math.max(this.live, 64);
    if (this.byOffset.length > limit) this.byOffset = this.byOffset.filter((w) => !w.settled);
    if (this.byDeadline.length > limit) this.byDeadline = this.byDeadline.filter((w) => !w.settled);
  }
}
