// Start-up: the de-duplication window rebuilt from the commit log's tail, so that a restarted broker
// answers sends from memory at once instead of confirming every id against the store's index
// while its newest record is inside the window (docs/broker.md "De-duplication").
//
// The tail is every record stored within `windowMs` of now, found per queue (the first consume-queue
// entry stored in the window) and read in log order from the earliest of them. Each record is fed
// into the window as the send front remembers a stored batch: consecutive records of one queue form
// a batch, its runs of generator ids go in as runs, the rest one by one (putSingle), with their
// stored results. The window's own bounds apply (entries past its size go to the eviction filter,
// runs past theirs merge or leave `coveredSinceMs` behind), so memory stays bounded.
//
// The read is bounded too: only the last REBUILD_BYTES_MAX bytes of the log are read. An in-window
// record before them is not loaded; the window is told the store time of the newest such record
// (`newestStoredBeforeStartMs`), so ids of that part are still confirmed against the store until it
// leaves the window — correctness first, as before this rebuild; a read stopped by a record that
// does not check loads nothing and falls back the same way for the whole tail. System topics are not loaded: the
// send front never remembers them (the Appender stores broker-side re-appends with original ids).
import { isSystemTopic } from '../../common/names.js';
import type { RecordIndexFields } from '../../common/record.js';
import type { QueueRange } from '../store/index.js';
import { DedupWindow, type StoredResult } from './dedup-window.js';
import { splitIdsIntoRuns } from './id-runs.js';

/**
 * Most log bytes read by the rebuild (the newest ones): a few seconds of reading at start-up at
 * most. Past it the older in-window part is confirmed against the store (see the file comment).
 */
export const REBUILD_BYTES_MAX = 1024 * 1024 * 1024;
/** Bytes read from the log per step of the rebuild. */
const REBUILD_CHUNK_BYTES = 4 * 1024 * 1024;

/** What the rebuild needs of the store (MessageStore has it). */
export interface TailStore {
  readonly maxPhysicalOffset: number;
  queueRange(topic: string, queueId: number): QueueRange;
  lastStoreTimestamp(topic: string, queueId: number): Promise<number>;
  tailStart(topic: string, queueId: number, sinceMs: number, minPhysicalOffset: number): Promise<{ physicalOffset: number | null; previousStoreTimestampMs: number | null }>;
  scanRecords(physicalOffset: number, chunkBytes: number, each: (records: readonly RecordIndexFields[]) => void): Promise<number>;
}

export interface QueueRef {
  readonly topic: string;
  readonly queueId: number;
}

interface RebuildOptions {
  windowMs: number;
  nowMs: number;
  /** Default REBUILD_BYTES_MAX (smaller in tests). */
  bytesMax?: number;
  entriesMax?: number;
  runsMax?: number;
}

export interface RebuildReport {
  /** Records fed into the window. */
  readonly records: number;
  /** Where the read started (null: nothing in the window to read). */
  readonly fromPhysicalOffset: number | null;
  /** Store time of the newest in-window record not loaded (null: none; its ids are asked of the store). */
  readonly notLoadedNewestMs: number | null;
}

/** A window holding the store's in-window tail (see the file comment). */
export async function rebuildDedupWindow(store: TailStore, queues: readonly QueueRef[], options: RebuildOptions): Promise<{ window: DedupWindow; report: RebuildReport }> {
  const { windowMs, nowMs } = options;
  const make = (newestStoredBeforeStartMs: number | null | undefined): DedupWindow =>
    new DedupWindow({ windowMs, startedAtMs: nowMs, newestStoredBeforeStartMs, entriesMax: options.entriesMax, runsMax: options.runsMax });
  const sinceMs = nowMs - windowMs;
  const inWindow: QueueRef[] = [];
  let newestInWindow: number | null = null;
  let notLoaded: number | null = null;
  for (const queue of queues) {
    const range = store.queueRange(queue.topic, queue.queueId);
    if (range.maxQueueOffset === range.minQueueOffset) continue;
    const newest = await store.lastStoreTimestamp(queue.topic, queue.queueId);
    // Unreadable store time: nothing is known, every miss is asked of the store for a whole window (as before).
    if (newest === 0) return { window: make(undefined), report: { records: 0, fromPhysicalOffset: null, notLoadedNewestMs: null } };
    if (newest < sinceMs || windowMs === 0) continue;
    // System topics: a running send front never remembers them either (see the file comment).
    if (isSystemTopic(queue.topic)) continue;
    inWindow.push(queue);
    newestInWindow = Math.max(newestInWindow ?? newest, newest);
  }
  const endPhysicalOffset = store.maxPhysicalOffset;
  const minPhysicalOffset = Math.max(0, endPhysicalOffset - (options.bytesMax ?? REBUILD_BYTES_MAX));
  let from: number | null = null;
  const topics = new Set<string>();
  for (const queue of inWindow) {
    topics.add(queue.topic);
    const start = await store.tailStart(queue.topic, queue.queueId, sinceMs, minPhysicalOffset);
    if (start.physicalOffset !== null) from = Math.min(from ?? start.physicalOffset, start.physicalOffset);
    const previous = start.previousStoreTimestampMs;
    if (previous !== null && previous >= sinceMs) notLoaded = Math.max(notLoaded ?? previous, previous);
  }
  const window = make(notLoaded);
  let records = 0;
  const stoppedAt = from === null ? endPhysicalOffset : await store.scanRecords(from, REBUILD_CHUNK_BYTES, (chunk) => void (records += feedChunk(window, chunk, topics, sinceMs, nowMs)));
  if (stoppedAt < endPhysicalOffset) {
    // A record that does not check stopped the read: what follows it is not loaded, so every miss
    // is asked of the store until the newest in-window record leaves the window (as before the rebuild).
    return { window: make(newestInWindow), report: { records: 0, fromPhysicalOffset: from, notLoadedNewestMs: newestInWindow } };
  }
  return { window, report: { records, fromPhysicalOffset: from, notLoadedNewestMs: notLoaded } };
}

/** Feeds a chunk's in-window records of `topics`, stretches of one queue as one batch each; returns how many. */
function feedChunk(window: DedupWindow, chunk: readonly RecordIndexFields[], topics: ReadonlySet<string>, sinceMs: number, nowMs: number): number {
  let fed = 0;
  let start = 0;
  while (start < chunk.length) {
    const first = chunk[start]!;
    let end = start + 1;
    while (end < chunk.length && chunk[end]!.topic === first.topic && chunk[end]!.queueId === first.queueId) end++;
    if (topics.has(first.topic)) {
      const batch = chunk.slice(start, end).filter((record) => record.storeTimestampMs >= sinceMs);
      feedBatch(window, batch, nowMs);
      fed += batch.length;
    }
    start = end;
  }
  return fed;
}

/** As the send front remembers a stored batch (services/send.ts `remember`). */
function feedBatch(window: DedupWindow, batch: readonly RecordIndexFields[], nowMs: number): void {
  if (batch.length === 0) return;
  const split = splitIdsIntoRuns(batch.length, (i) => batch[i]!.messageId);
  for (let r = 0; r < split.instances.length; r++) {
    let oldest = Number.POSITIVE_INFINITY;
    let newest = Number.NEGATIVE_INFINITY;
    for (let i = split.starts[r]!; i < split.ends[r]!; i++) {
      oldest = Math.min(oldest, batch[i]!.storeTimestampMs);
      newest = Math.max(newest, batch[i]!.storeTimestampMs);
    }
    window.putRun(split.instances[r]!, split.firsts[r]!, split.lasts[r]!, batch[0]!.topic, oldest, newest, nowMs);
  }
  for (const k of split.singles) window.putSingle(storedResult(batch[k]!), nowMs);
}

function storedResult(record: RecordIndexFields): StoredResult {
  return {
    messageId: record.messageId,
    topic: record.topic,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    physicalOffset: record.physicalOffset,
    storeTimestampMs: record.storeTimestampMs,
  };
}
