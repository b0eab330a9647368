// The store's public shapes (the surface the broker codes against).
import type { Logger } from 'pino';
import type { RecordMessage } from '../../common/record.js';

export interface StoreOptions {
  /** Commit log under dataDir/commitlog, consume queues under dataDir/consumequeue/<topic>/<queueId>, level under dataDir/meta. */
  dataDir: string;
  /** Commit-log segment size; default 1 GiB; tests use e.g. 64 KiB. Fixed for the life of a data directory. */
  segmentBytes?: number;
  /** 'async' (default): fsync every flushIntervalMs. 'sync': an append resolves after an fsync covering it. */
  flushMode?: FlushMode;
  flushIntervalMs?: number;
  retentionHours?: number;
  diskSoftThresholdPercent?: number;
  diskHardThresholdPercent?: number;
  /** Injectable for tests; default statfs on dataDir. */
  diskUsage?: () => Promise<{ usedPercent: number }>;
  /** Milliseconds; injectable. */
  clock?: () => number;
  log?: Logger;
  /** Entries per consume-queue file; default 300,000 (6 MB). Tests use small values to roll files. */
  consumeQueueEntriesPerFile?: number;
  /** Run retention and disk checks on timers (default true); tests call runRetention() instead. */
  backgroundTimers?: boolean;
  /**
   * Store files (segments, consume-queue files) open at once at most (docs/storage.md "Open
   * files"); default what the process's open-files limit leaves after LevelDB and sockets
   * (planOpenFiles). The broker passes the budget it logged at start.
   */
  openFilesMax?: number;
}

export type FlushMode = 'async' | 'sync';

/** A message as the store takes it: exactly the message part of a record (common/record.ts). */
export type StoreMessageInput = RecordMessage;

/** Where one appended message went. Shaped as the broker's de-duplication entry (StoredResult) so one object serves both. */
export interface AppendResult {
  messageId: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  storeTimestampMs: number;
  size: number;
}

export interface ReadOptions {
  maxCount: number;
  maxBytes: number;
  /** undefined = every tag; filtered by tag hash in the consume queue, then confirmed on the record. */
  tags?: ReadonlySet<string>;
  /** Bytes to leave free in front of the records (ReadResult.frame), for a response header written in place. Default 0. */
  headroomBytes?: number;
  /** Where the frame comes from (e.g. a pool the caller gives it back to); default Buffer.allocUnsafe. */
  allocateFrame?: (bytes: number) => Buffer;
}

export interface ReadResult {
  status: 'found' | 'no-new-message' | 'no-matched-message';
  /** Stored records concatenated, exactly as on disk. */
  records: Buffer;
  count: number;
  nextQueueOffset: number;
  minQueueOffset: number;
  /** One past the last entry. */
  maxQueueOffset: number;
  /**
   * With ReadOptions.headroomBytes and records found: the buffer the records were read into,
   * `headroomBytes` free bytes and then `records` (owned by the caller, not shared).
   */
  frame?: Buffer;
}

export interface QueueRange {
  minQueueOffset: number;
  maxQueueOffset: number;
}

export interface StoreStats {
  flushMode: FlushMode;
  writeCount: number;
  bytesWritten: number;
  recordsAppended: number;
  fsyncCount: number;
  /** Records covered by sync-mode fsyncs divided by those fsyncs (0 in async mode). */
  recordsPerFsync: number;
  flushLatencyMs: { last: number; mean: number; p50: number; p99: number; max: number };
  minPhysicalOffset: number;
  maxPhysicalOffset: number;
  flushedPhysicalOffset: number;
  indexPendingEntries: number;
  diskUsedPercent: number;
  /** The open-file cache: its budget, descriptors held now, opens and evictions since the store opened, opens that waited for a free handle. */
  openFiles: { budget: number; open: number; opens: number; evictions: number; waits: number };
}
