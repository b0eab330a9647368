// The in-memory half of send de-duplication: the results of recently stored messages by message
// id, for `windowMs` after their store timestamp. Pure: callers pass the current time.
//
// The window is a cache, not the truth: the store's message-id index is. A miss here must be
// confirmed against the store (`needsStoreLookup`) only when the id could be there:
// - ids stored before this process started and not loaded into the window at start
//   (window-rebuild.ts): only while the newest such record (`newestStoredBeforeStartMs`) is
//   inside the window; never when the rebuild loaded the whole in-window tail or the store was empty;
// - ids evicted by the size bound: they go into a time-sliced Bloom filter (recent-id-filter.ts);
//   only a filter hit (or a filter that overflowed, see `coveredSinceMs`) asks the store.
// Expiry and eviction order is a FIFO of the entries (array + head index), so `put` is amortised O(1).
//
// Two forms of memory: the per-id map above (user-supplied ids, short runs, ids the general send
// path stores) and runs of generator-format ids (id-runs.ts: a batch of one producer's consecutive
// counters is one run, checked and remembered per batch). Single sends join runs too
// (`putSingle`): the client gives ids when it forms an RPC, so one producer's lone sends carry
// consecutive counters, and a counter that follows the producer's run (or its previous lone id)
// (by at most SINGLE_RUN_GAP_MAX) extends that run instead of taking a map entry (~200 bytes of
// heap each: 40 MB at 200,000). A run hit is a *possible* duplicate:
// `needsStoreLookup` says yes and the store's index decides, so the runs never answer by
// themselves and a false positive only costs a lookup.
import { assert } from '../../common/errors.js';
import { RecentIdFilter } from './recent-id-filter.js';
import { generatorCounter, generatorInstance } from '../../common/message-id.js';
import { IdRuns } from './id-runs.js';

/**
 * Most ids kept in memory. About 200 bytes each, so ~40 MiB at the bound; at 1,600 messages/s a
 * 2-minute window fits. Past it the oldest are evicted into the eviction filter (recent-id-filter.ts).
 */
const DEDUP_WINDOW_ENTRIES_MAX = 200_000;

/** What a repeated send is answered with: the original result. */
export interface StoredResult {
  readonly messageId: string;
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly storeTimestampMs: number;
}

interface DedupWindowOptions {
  windowMs: number;
  /** When this process started remembering: ids stored before it are only in the store index. */
  startedAtMs: number;
  /**
   * The store timestamp of the newest record stored before this process started that is not in
   * this window (null: none — an empty store, or the start's rebuild loaded every in-window
   * record). When given, ids from before the start need a store lookup only while it is inside
   * the window, instead of for a whole window after `startedAtMs`.
   */
  newestStoredBeforeStartMs?: number | null;
  entriesMax?: number;
  /** Most id runs (default ID_RUNS_MAX; smaller only in tests). */
  runsMax?: number;
}

/** FIFO slots consumed before the FIFO array is compacted (bounds the dead prefix kept alive). */
const FIFO_COMPACT_AFTER = 4_096;
/** Generator instances whose last lone id is kept (putSingle); past it the table starts afresh. */
const LAST_SINGLES_MAX = 10_000;
/**
 * Largest step between a producer's lone ids that still joins them into one run (putSingle): with
 * several broker groups a producer's consecutive counters alternate between them. The counters
 * skipped are covered too — a retry of one of them here costs a store lookup (id-runs.ts), nothing else.
 */
export const SINGLE_RUN_GAP_MAX = 64;

interface LastSingle {
  counter: number;
  topic: string;
  storeTimestampMs: number;
}

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
  /** Runs of generator-format ids stored by batch (id-runs.ts). */
  private readonly runs: IdRuns;
  /** Per generator instance, its last id remembered one by one (putSingle): the next counter starts a run. */
  private readonly lastSingles = new Map<number, LastSingle>();

  constructor(options: DedupWindowOptions) {
    assert(options.windowMs >= 0, 'dedup windowMs must not be negative');
    this.windowMs = options.windowMs;
    this.entriesMax = options.entriesMax ?? DEDUP_WINDOW_ENTRIES_MAX;
    assert(this.entriesMax >= 1, 'dedup entriesMax must be at least 1');
    const newest = options.newestStoredBeforeStartMs;
    this.preStartUntil = newest === undefined ? options.startedAtMs : newest === null ? Number.NEGATIVE_INFINITY : newest + 1;
    this.runs = new IdRuns(options.runsMax);
  }

  /** Runs of generator-format ids held (see id-runs.ts). */
  get runCount(): number {
    return this.runs.size;
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
    return Math.max(this.preStartUntil, this.evicted.completeSinceMs, this.runs.completeSinceMs);
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
      this.deleteEntry(messageId);
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
    if (messageId === undefined) return this.evicted.hasIdsSince(since) || this.runs.hasRunsSince(since);
    if (this.evicted.hasIdsSince(since) && this.evicted.mightContain(messageId, since)) return true;
    if (!this.runs.hasRunsSince(since)) return false;
    const instance = generatorInstance(messageId);
    if (instance < 0) return false;
    const counter = generatorCounter(messageId);
    return this.runs.intersects(instance, counter, counter, since);
  }

  /**
   * The per-batch check of a run of generator-format ids (counters first..last of `instance`):
   * whether one of them may have been stored within the window as part of a run, or any id may be
   * only in the store (before the start, past a bound). The ids of the run still need
   * `mayHoldGeneratorId` each (a no-op while no generator-format id is remembered one by one).
   */
  runMayRepeat(instance: number, first: number, last: number, nowMs: number): boolean {
    if (this.windowMs === 0) return false;
    const since = nowMs - this.windowMs;
    return this.coveredSinceMs > since || this.runs.intersects(instance, first, last, since);
  }

  /**
   * Whether the per-id memory (map or eviction filter) may hold this generator-format id. Free
   * while both are empty (a producer whose batches are all runs); otherwise the per-id cost of old.
   */
  mayHoldGeneratorId(messageId: string, nowMs: number): boolean {
    if (this.entries.size > 0 && this.get(messageId, nowMs) !== undefined) return true;
    const since = nowMs - this.windowMs;
    return this.evicted.hasIdsSince(since) && this.evicted.mightContain(messageId, since);
  }

  /** Remembers the stored ids first..last (counters) of generator `instance`, stored in `topic` between oldestMs and newestMs. */
  putRun(instance: number, first: number, last: number, topic: string, oldestMs: number, newestMs: number, nowMs: number): void {
    if (this.windowMs === 0) return;
    this.runs.add(instance, first, last, topic, oldestMs, newestMs);
    this.prune(nowMs);
  }

  /**
   * Remembers a stored message that was not part of a run of its batch. A generator-format id whose
   * counter follows its producer's highest run, or its previous lone id, in the same topic (by at
   * most SINGLE_RUN_GAP_MAX) joins that run — a possible duplicate from then on, confirmed by the
   * store's index like any run hit; any other id is remembered one by one (`put`).
   */
  putSingle(result: StoredResult, nowMs: number): void {
    if (this.windowMs === 0) return;
    const instance = generatorInstance(result.messageId);
    const counter = instance < 0 ? -1 : generatorCounter(result.messageId);
    if (counter > 0) {
      const at = result.storeTimestampMs;
      const tail = this.runs.tailBefore(instance, counter, SINGLE_RUN_GAP_MAX, result.topic);
      if (tail >= 0) {
        this.runs.add(instance, tail + 1, counter, result.topic, at, at);
        this.prune(nowMs);
        return;
      }
      const last = this.lastSingles.get(instance);
      if (last !== undefined && last.topic === result.topic && last.counter < counter && counter - last.counter <= SINGLE_RUN_GAP_MAX) {
        // The previous id keeps its map entry until it expires; the run covers it as well.
        this.lastSingles.delete(instance);
        this.runs.add(instance, last.counter, counter, result.topic, Math.min(last.storeTimestampMs, at), Math.max(last.storeTimestampMs, at));
        this.prune(nowMs);
        return;
      }
    }
    if (counter >= 0) {
      if (this.lastSingles.size >= LAST_SINGLES_MAX && !this.lastSingles.has(instance)) this.lastSingles.clear();
      this.lastSingles.set(instance, { counter, topic: result.topic, storeTimestampMs: result.storeTimestampMs });
    }
    this.put(result, nowMs);
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
    for (const [id, entry] of this.entries) if (entry.topic === topic) this.deleteEntry(id);
    this.runs.forgetTopic(topic);
    for (const [instance, last] of this.lastSingles) if (last.topic === topic) this.lastSingles.delete(instance);
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
      if (live) this.deleteEntry(entry.messageId);
      this.fifoHead++;
    }
    if (this.fifoHead >= FIFO_COMPACT_AFTER && this.fifoHead * 2 >= this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
    this.evicted.expire(nowMs - this.windowMs);
    this.runs.expire(nowMs - this.windowMs, nowMs);
  }

  private deleteEntry(messageId: string): void {
    this.entries.delete(messageId);
  }
}
