// The consumer-side state of one assigned queue: where pulling stands, which pulled messages are
// unfinished (they count against the per-queue cache bound; pulling pauses while it is full),
// how many handlers run right now, and what was last committed. No I/O: the push consumer's pull
// loop and dispatcher drive it.
import { assert } from '../../common/errors.js';
import { OffsetTracker } from './offset-tracker.js';
import type { MessageQueue } from '../routing/route.js';

export class ProcessQueue {
  readonly tracker: OffsetTracker;
  /** The offset last persisted (broker or local file); undefined before the first commit. */
  lastCommitted: number | undefined;
  /**
   * False while the last commit landed on a slave standing in for an absent master: the offset
   * is committed again (to the master once it is back) even if it has not moved.
   */
  lastCommitAtHome = true;
  private droppedFlag = false;
  private runningCount = 0;
  private spaceWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly queue: MessageQueue,
    startOffset: number,
    private readonly maxCachedMessages: number,
  ) {
    assert(maxCachedMessages >= 1, 'maxCachedMessages must be at least 1');
    this.tracker = new OffsetTracker(startOffset);
  }

  get dropped(): boolean {
    return this.droppedFlag;
  }

  /** Pulled and not finished (waiting for a handler or running in one). */
  get cachedCount(): number {
    return this.tracker.unfinishedCount;
  }

  get runningHandlers(): number {
    return this.runningCount;
  }

  isFull(): boolean {
    return this.cachedCount >= this.maxCachedMessages;
  }

  /** How many more messages fit in the cache right now (what the next pull may ask for). */
  room(): number {
    return Math.max(0, this.maxCachedMessages - this.cachedCount);
  }

  /** Resolves once the cache has room or the queue is dropped. */
  waitForSpace(): Promise<void> {
    if (!this.isFull() || this.droppedFlag) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** A pull answered with these offsets; the next pull starts at `nextOffset`. */
  received(offsets: readonly number[], nextOffset: number): void {
    this.tracker.received(offsets, nextOffset);
  }

  handlerStarted(): void {
    this.runningCount++;
  }

  /** A handler ended (with or without finishing the message, e.g. a retry is scheduled). */
  handlerEnded(): void {
    assert(this.runningCount > 0, 'handlerEnded without handlerStarted');
    this.runningCount--;
    if (this.runningCount === 0) this.wake('idle');
  }

  /** The message at `offset` is done (handled, or given up after its retries). */
  complete(offset: number): void {
    this.tracker.complete(offset);
    if (!this.isFull()) this.wake('space');
  }

  /** Everything below this is done. */
  committable(): number {
    return this.tracker.committable();
  }

  /** True when the committable offset moved past what was last persisted, or that went to a stand-in. */
  needsCommit(): boolean {
    return this.lastCommitted === undefined || this.committable() !== this.lastCommitted || !this.lastCommitAtHome;
  }

  /** Stops this queue: the pull loop ends, queued messages are skipped, waiters wake. */
  drop(): void {
    this.droppedFlag = true;
    this.wake('space');
  }

  /** Resolves when no handler of this queue is running. */
  waitIdle(): Promise<void> {
    if (this.runningCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wake(which: 'space' | 'idle'): void {
    const waiters = which === 'space' ? this.spaceWaiters : this.idleWaiters;
    if (waiters.length === 0) return;
    if (which === 'space') this.spaceWaiters = [];
    else this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
