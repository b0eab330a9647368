// The in-memory half of send de-duplication: the results of recently stored messages by message
// id, for `windowMs` after their store timestamp. Pure: callers pass the current time.
//
// The window is a cache, not the truth: the store's message-id index is. The memory is
// authoritative only for ids stored since `coveredSinceMs` (the process start, moved forward when
// the size bound evicts an entry still inside the window). While that point lies inside the
// window, a miss here must be confirmed against the store (`needsStoreLookup`).
import { assert } from '../common/errors.js';

/**
 * Most ids kept in memory. About 200 bytes each, so ~40 MiB at the bound; at 1,600 messages/s a
 * 2-minute window fits. Past it the oldest are evicted and misses fall back to the store index.
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
  entriesMax?: number;
}

export class DedupWindow {
  readonly windowMs: number;
  readonly entriesMax: number;
  private readonly entries = new Map<string, StoredResult>();
  private coveredSince: number;

  constructor(options: DedupWindowOptions) {
    assert(options.windowMs >= 0, 'dedup windowMs must not be negative');
    this.windowMs = options.windowMs;
    this.entriesMax = options.entriesMax ?? DEDUP_WINDOW_ENTRIES_MAX;
    assert(this.entriesMax >= 1, 'dedup entriesMax must be at least 1');
    this.coveredSince = options.startedAtMs;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Store timestamps from this one on are fully remembered (see the file comment). */
  get coveredSinceMs(): number {
    return this.coveredSince;
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

  /** Whether a miss in memory at `nowMs` may still be a duplicate known only to the store. */
  needsStoreLookup(nowMs: number): boolean {
    return this.windowMs > 0 && this.coveredSince > nowMs - this.windowMs;
  }

  /** Remembers a stored message; drops expired entries and evicts past the bound. */
  put(result: StoredResult, nowMs: number): void {
    if (this.windowMs === 0) return;
    this.entries.delete(result.messageId);
    this.entries.set(result.messageId, result);
    this.prune(nowMs);
  }

  /** Forgets every id stored in `topic` (topic deletion: a re-created topic starts afresh). */
  forgetTopic(topic: string): void {
    for (const [id, entry] of this.entries) if (entry.topic === topic) this.entries.delete(id);
  }

  /** Drops entries that left the window and, past the size bound, the oldest ones. */
  prune(nowMs: number): void {
    for (const [id, entry] of this.entries) {
      if (this.isWithinWindow(entry.storeTimestampMs, nowMs)) break;
      this.entries.delete(id);
    }
    while (this.entries.size > this.entriesMax) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) break;
      const [id, entry] = oldest.value;
      this.entries.delete(id);
      this.coveredSince = Math.max(this.coveredSince, entry.storeTimestampMs + 1);
    }
  }
}
