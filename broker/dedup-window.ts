// The in-memory half of send de-duplication: the results of recently stored messages by message
// id, for `windowMs` after their store timestamp. Pure: callers pass the current time.
//
// The window is a cache, not the truth: the store's message-id index is. A miss here must be
// confirmed against the store (`needsStoreLookup`) only when the id could be there:
// - ids stored before this process started: only while the store's newest record from before the
//   start (`newestStoredBeforeStartMs`) is inside the window; an empty store never;
// - ids evicted by the size bound: they go into a time-sliced Bloom filter (recent-id-filter.ts);
//   only a filter hit (or a filter that overflowed, see `coveredSinceMs`) asks the store.
// Expiry and eviction order is a FIFO of the entries (array + head index), so `put` is amortised O(1).
import { assert } from '../common/errors.js';
import { RecentIdFilter } from './recent-id-filter.js';

/**
 * Most ids kept in memory. About 200 bytes each, so ~40 MiB at the bound; at 1,600 messages/s a
 * 2-minute window fits. Past it the oldest are evicted into the eviction filter (recent-id-filter.ts).
 */
export const DEDUP_WINDOW_ENTRIES_MAX = 200_000;

/** What a repeated send is answered with: the original result. */
export interface StoredResult {
  readonly messageId: string;
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly storeTimestampMs: number;
}

export interface DedupWindowOptions {
  windowMs: number;
  /** When this process started remembering: ids stored before it are only in the store index. */
  startedAtMs: number;
  /**
   * The store timestamp of the newest record stored before this process started (null: the store
   * was empty). When given, ids from before the start need a store lookup only while it is inside
   * the window, instead of for a whole window after `startedAtMs`.
   */
  newestStoredBeforeStartMs?: number | null;
  entriesMax?: number;
}

/** FIFO slots consumed before the FIFO array is compacted (bounds the dead prefix kept alive). */
const FIFO_COMPACT_AFTER = 4_096;

export class DedupWindow {
  readonly windowMs: number;
  readonly entriesMax: number;
  private readonly entries = new Map<string, StoredResult>();
  /** Entries in put order; a slot whose entry was replaced or deleted is skipped when reached. */
  private fifo: StoredResult[] = [];
  private fifoHead = 0;
  /** Ids evicted by the size bound while still inside the window. */
  private readonly evicted = new RecentIdFilter();
  /** Ids stored before this are possibly only in the store (the pre-start part). */
  private readonly preStartUntil: number;
  private visits = 0;

  constructor(options: DedupWindowOptions) {
    assert(options.windowMs >= 0, 'dedup windowMs must not be negative');
    this.windowMs = options.windowMs;
    this.entriesMax = options.entriesMax ?? DEDUP_WINDOW_ENTRIES_MAX;
    assert(this.entriesMax >= 1, 'dedup entriesMax must be at least 1');
    const newest = options.newestStoredBeforeStartMs;
    this.preStartUntil = newest === undefined ? options.startedAtMs : newest === null ? Number.NEGATIVE_INFINITY : newest + 1;
  }

  /** FIFO slots `prune` has looked at so far (a cost counter for tests: amortised O(1) per put). */
  get pruneVisits(): number {
    return this.visits;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * From this store timestamp on, every id is in memory or in the eviction filter (see the file
   * comment); a miss for an older id inside the window must ask the store.
   */
  get coveredSinceMs(): number {
    return Math.max(this.preStartUntil, this.evicted.completeSinceMs);
  }

  /** Whether a message stored at `storeTimestampMs` still counts as a duplicate at `nowMs`. */
  isWithinWindow(storeTimestampMs: number, nowMs: number): boolean {
    return storeTimestampMs >= nowMs - this.windowMs;
  }

  /** The original result of `messageId` if it was stored within the window. */
  get(messageId: string, nowMs: number): StoredResult | undefined {
    const entry = this.entries.get(messageId);
    if (entry === undefined) return undefined;
    if (!this.isWithinWindow(entry.storeTimestampMs, nowMs)) {
      this.entries.delete(messageId);
      return undefined;
    }
    return entry;
  }

  /**
   * Whether a miss in memory for `messageId` at `nowMs` may still be a duplicate known only to the
   * store. Without an id: whether any miss may be.
   */
  needsStoreLookup(nowMs: number, messageId?: string): boolean {
    if (this.windowMs === 0) return false;
    const since = nowMs - this.windowMs;
    if (this.coveredSinceMs > since) return true;
    if (!this.evicted.hasIdsSince(since)) return false;
    return messageId === undefined || this.evicted.mightContain(messageId, since);
  }

  /** Remembers a stored message; drops expired entries and evicts past the bound. */
  put(result: StoredResult, nowMs: number): void {
    if (this.windowMs === 0) return;
    // A replaced entry keeps its place in the map (order is the FIFO's job); its old FIFO slot is skipped.
    this.entries.set(result.messageId, result);
    this.fifo.push(result);
    this.prune(nowMs);
  }

  /** Forgets every id stored in `topic` (topic deletion: a re-created topic starts afresh). */
  forgetTopic(topic: string): void {
    for (const [id, entry] of this.entries) if (entry.topic === topic) this.entries.delete(id);
    this.fifo = this.fifo.slice(this.fifoHead).filter((entry) => this.entries.get(entry.messageId) === entry);
    this.fifoHead = 0;
  }

  /** Drops entries that left the window and, past the size bound, the oldest ones. */
  prune(nowMs: number): void {
    while (this.fifoHead < this.fifo.length) {
      const entry = this.fifo[this.fifoHead]!;
      this.visits++;
      const live = this.entries.get(entry.messageId) === entry;
      if (live && this.isWithinWindow(entry.storeTimestampMs, nowMs)) {
        if (this.entries.size <= this.entriesMax) break;
        this.evicted.add(entry.messageId, entry.storeTimestampMs);
      }
      if (live) this.entries.delete(entry.messageId);
      this.fifoHead++;
    }
    if (this.fifoHead >= FIFO_COMPACT_AFTER && this.fifoHead * 2 >= this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
    this.evicted.expire(nowMs - this.windowMs);
  }
}
