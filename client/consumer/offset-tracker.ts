// "Everything below is done" bookkeeping for one queue (pure). Messages are received in offset
// order (one outstanding pull per queue) and finish in any order; the committable offset is the
// lowest offset still unfinished, or — when nothing is unfinished — one past the last offset
// pulled (which skips offsets the broker filtered out by tag). It never passes an unfinished
// message, so a crash re-delivers work instead of losing it.
import { assert } from '../../common/errors.js';

/** Compact the pending array once this many finished entries sit before the head. */
const COMPACT_AFTER_ENTRIES = 1_024;

export class OffsetTracker {
  /** Offsets received and not yet committed past, increasing; [head, length) is live. */
  private pending: number[] = [];
  private head = 0;
  /** Finished offsets that are still at or above the head's offset. */
  private readonly finished = new Set<number>();
  private next: number;

  constructor(startOffset: number) {
    assert(Number.isSafeInteger(startOffset) && startOffset >= 0, `start offset must be a non-negative integer, got ${startOffset}`);
    this.next = startOffset;
  }

  /** The offset the next pull asks for. */
  get nextOffset(): number {
    return this.next;
  }

  /** Received but not finished. */
  get unfinishedCount(): number {
    return this.pending.length - this.head - this.finished.size;
  }

  /**
   * A pull answered: `offsets` (increasing, at or after the previous next offset) were handed
   * out and the broker's next offset is `nextOffset`.
   */
  received(offsets: readonly number[], nextOffset: number): void {
    let last = this.next - 1;
    for (const offset of offsets) {
      assert(offset > last, `offsets must increase: ${offset} after ${last}`);
      this.pending.push(offset);
      last = offset;
    }
    assert(nextOffset > last, `next offset ${nextOffset} must be past the last received ${last}`);
    this.next = nextOffset;
  }

  /**
   * Marks one received offset finished. Returns false (and changes nothing) for an offset not
   * pending, e.g. one from before a reset.
   */
  complete(offset: number): boolean {
    if (this.head < this.pending.length && this.pending[this.head] === offset) {
      // In-order finish (the usual case): the head moves on without touching the set.
      this.head++;
    } else {
      if (this.finished.has(offset) || !this.isPending(offset)) return false;
      this.finished.add(offset);
    }
    while (this.finished.size > 0 && this.head < this.pending.length) {
      const first = this.pending[this.head] as number;
      if (!this.finished.has(first)) break;
      this.finished.delete(first);
      this.head++;
    }
    if (this.head >= COMPACT_AFTER_ENTRIES && this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  /** Everything below this offset is done. */
  committable(): number {
    return this.head < this.pending.length ? (this.pending[this.head] as number) : this.next;
  }

  /** Start over at `offset` (offset out of range, or a seek): pending work is forgotten. */
  reset(offset: number): void {
    assert(Number.isSafeInteger(offset) && offset >= 0, `reset offset must be a non-negative integer, got ${offset}`);
    this.pending = [];
    this.head = 0;
    this.finished.clear();
    this.next = offset;
  }

  private isPending(offset: number): boolean {
    // Binary search in the live part of the increasing array.
    let low = this.head;
    let high = this.pending.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.pending[middle] as number;
      if (value === offset) return true;
      if (value < offset) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }
}
