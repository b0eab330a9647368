// Defaults and limits of the store, each with its unit and why (STYLE.md). Message and batch
// limits shared with the edge are in common/limits.ts.
import { RECORD_BYTES_MAX } from '../../common/limits.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Commit-log segment size: 1 GiB, as RocketMQ; few files, cheap retention by whole segments. */
export const SEGMENT_BYTES_DEFAULT = 1024 * MiB;
/** Smallest segment: tests roll segments after a few records. */
export const SEGMENT_BYTES_MIN = 4 * KiB;
/** Largest segment: physical offsets inside a segment stay well within a file position. */
export const SEGMENT_BYTES_MAX = 4 * 1024 * MiB;

export const FLUSH_INTERVAL_MS_DEFAULT = 500;
export const RETENTION_HOURS_DEFAULT = 72;
export const DISK_SOFT_THRESHOLD_PERCENT_DEFAULT = 75;
export const DISK_HARD_THRESHOLD_PERCENT_DEFAULT = 90;

/** Consume-queue file: 300,000 entries of 20 bytes (6 MB), as RocketMQ. */
export const CONSUME_QUEUE_ENTRIES_PER_FILE_DEFAULT = 300_000;

/**
 * Bytes accepted but not yet written: past this an append fails with SERVICE_UNAVAILABLE instead
 * of growing memory without bound while the disk is slower than the senders.
 */
export const APPEND_QUEUE_BYTES_MAX = 256 * MiB;
/** Buffers in one writev call (Linux IOV_MAX). */
export const WRITE_IOVECS_MAX = 1024;
/** Bytes in one writev call: large enough to amortise the syscall, small enough to keep latency low. */
export const WRITE_BYTES_MAX = 32 * MiB;

/** Index entries waiting for level: past this, appends wait until the index writer catches up. */
export const INDEX_PENDING_ENTRIES_MAX = 200_000;
/** The index writer gathers this many entries, or waits INDEX_WRITE_DELAY_MS, before a level write. */
export const INDEX_WRITE_ENTRIES_MIN = 4_096;
export const INDEX_WRITE_DELAY_MS = 5;
/** Index entries in one level batch. */
export const INDEX_BATCH_ENTRIES_MAX = 20_000;
/**
 * Most ids in one run entry of the message-id index (id-run-index.ts): 256 ids make a 1 KiB
 * value, and one batch of a producer (128 by default) or two fit. A lookup reads the run entries
 * whose first counter is at most this far below the id's, so it also bounds a lookup's range.
 */
export const INDEX_RUN_IDS_MAX = 256;
/**
 * Fewest ids kept as one run entry; shorter stretches get an entry per id. With runs at least
 * this long, a lookup range holds at most INDEX_RUN_IDS_MAX / INDEX_RUN_IDS_MIN + 1 entries.
 */
export const INDEX_RUN_IDS_MIN = 8;
/**
 * Generator instances whose counter span is kept per segment (id-run-spans.ts, ~100 bytes each in
 * memory and one small level entry): a segment is one producer process's stretch of ids per
 * instance. Past this many, every generator-id lookup searches that segment's run entries.
 */
export const INDEX_RUN_SPANS_PER_SEGMENT_MAX = 1_024;
/** Segments whose run entries one id lookup reads at once (one level iterator each). */
export const INDEX_RUN_LOOKUP_ITERATORS_MAX = 8;
/** Records returned by one key lookup at most. */
export const LOOKUP_KEY_RESULTS_MAX = 64;

/** Consume-queue bytes kept in memory before they are written (also written on every flush tick). */
export const CONSUME_QUEUE_WRITE_THRESHOLD_BYTES = 64 * KiB;

/** Entries a consume-queue file read fetches at least, kept per queue for the next sequential read (10 KiB). */
export const CONSUME_QUEUE_READ_AHEAD_ENTRIES = 512;
/** Consume-queue entries examined by one read while a tag filter skips records (RocketMQ's 16,000). */
export const READ_SCAN_ENTRIES_MAX = 16_000;
/** Records in one read answer. */
export const READ_COUNT_MAX = 4_096;
/** Bytes in one read answer (half the gRPC message limit); the first record is returned even if larger. */
export const READ_BYTES_MAX = 32 * MiB;
/** Two commit-log ranges closer than this are read with one call, the gap discarded. */
export const READ_GAP_BYTES_MAX = 16 * KiB;

/** Bytes read per call while recovery scans the log: must hold the largest record. */
export const RECOVERY_READ_BYTES = Math.max(8 * MiB, RECORD_BYTES_MAX + 64 * KiB);

/** How often the cached disk usage is refreshed (appends check the cached value). */
export const DISK_CHECK_INTERVAL_MS = 1_000;
/** How often retention runs. */
export const RETENTION_INTERVAL_MS = 10_000;
/** Segments one retention run deletes under disk pressure before it measures again. */
export const RETENTION_PRESSURE_SEGMENTS_PER_RUN_MAX = 16;
/** Index entries one retention sweep deletes from level. */
export const INDEX_SWEEP_ENTRIES_MAX = 100_000;

/** Flush latencies kept for percentiles in stats(). */
export const FLUSH_LATENCY_SAMPLES = 1_024;
