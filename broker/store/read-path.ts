// Reading a queue: consume-queue entries in chunks, filtered by tag hash and limited by count and
// bytes, then the commit-log bytes of the chosen records with adjacent (or nearly adjacent) ranges
// coalesced into one read each. The answer is the records exactly as stored.
import { assert, ConveyorError, ErrorCode } from '../../common/errors.js';
import { decodeRecordIndexFields, tagHashParts } from '../../common/record.js';
import type { CommitLog } from './commit-log.js';
import { entryCount, entryPhysicalOffset, entrySize, entryTagHigh, entryTagLow } from './consume-queue-entry.js';
import type { ConsumeQueue } from './consume-queue.js';
import { segmentBaseOf } from './layout.js';
import { READ_BYTES_MAX, READ_COUNT_MAX, READ_GAP_BYTES_MAX, READ_SCAN_ENTRIES_MAX } from './store-limits.js';
import type { ReadOptions, ReadResult } from './types.js';

/** Entries looked at per consume-queue read. */
const ENTRIES_PER_CHUNK = 1_024;
/** A coalesced read with gaps is read into a scratch buffer of at most this many bytes. */
const SPAN_BYTES_MAX = 4 * 1024 * 1024;
/**
 * Commit-log reads of one answer in flight at once. A queue's records lie in runs spread over the
 * log (one run per send batch), so an answer is several reads; from a cold page cache each waits
 * for the disk, and overlapping them hides that wait. 4 = libuv's default thread pool, which
 * serves the reads (more would only queue there, ahead of other file work).
 */
const SPAN_READS_IN_FLIGHT_MAX = 4;

interface Selected {
  physicalOffsets: number[];
  sizes: number[];
  bytes: number;
}

/** One read of the commit log: [physicalOffset, physicalOffset + length), covering records [first, last]. */
interface Span {
  physicalOffset: number;
  length: number;
  first: number;
  last: number;
  gapless: boolean;
}

/** Pure: groups records (ascending physical offsets) into reads within one segment, bridging small gaps. */
export function planSpans(physicalOffsets: readonly number[], sizes: readonly number[], segmentBytes: number): Span[] {
  const spans: Span[] = [];
  let i = 0;
  while (i < physicalOffsets.length) {
    const start = physicalOffsets[i]!;
    const base = segmentBaseOf(start, segmentBytes);
    let end = start + sizes[i]!;
    let gapless = true;
    let j = i + 1;
    while (j < physicalOffsets.length) {
      const next = physicalOffsets[j]!;
      const nextEnd = next + sizes[j]!;
      if (next < end || next - end > READ_GAP_BYTES_MAX || segmentBaseOf(next, segmentBytes) !== base) break;
      if (next !== end && nextEnd - start > SPAN_BYTES_MAX) break;
      if (next !== end) gapless = false;
      end = nextEnd;
      j++;
    }
    spans.push({ physicalOffset: start, length: end - start, first: i, last: j - 1, gapless });
    i = j;
  }
  return spans;
}

interface TagFilter {
  tags: ReadonlySet<string>;
  hashes: { high: number; low: number }[];
}

function tagFilterOf(tags: ReadonlySet<string> | undefined): TagFilter | undefined {
  if (tags === undefined) return undefined;
  return { tags, hashes: [...tags].map(tagHashParts) };
}

function hashMatches(filter: TagFilter, high: number, low: number): boolean {
  for (const h of filter.hashes) if (h.high === high && h.low === low) return true;
  return false;
}

export function outOfRange(topic: string, queueId: number, queueOffset: number, min: number, max: number): ConveyorError {
  return new ConveyorError(
    ErrorCode.OFFSET_OUT_OF_RANGE,
    `queue offset ${queueOffset} of ${topic}/${queueId} is outside the stored range [${min}, ${max}]`,
    { topic, queueId, queueOffset, minOffset: min, maxOffset: max },
  );
}

export async function readQueue(commitLog: CommitLog, queue: ConsumeQueue, queueOffset: number, options: ReadOptions, minPhysicalOffset: number): Promise<ReadResult> {
  const range = (): Pick<ReadResult, 'minQueueOffset' | 'maxQueueOffset'> => ({ minQueueOffset: queue.minQueueOffset, maxQueueOffset: queue.maxQueueOffset });
  if (queueOffset < queue.minQueueOffset || queueOffset > queue.maxQueueOffset) throw outOfRange(queue.topic, queue.queueId, queueOffset, queue.minQueueOffset, queue.maxQueueOffset);
  if (queueOffset === queue.maxQueueOffset) return { status: 'no-new-message', records: Buffer.alloc(0), count: 0, nextQueueOffset: queueOffset, ...range() };
  const maxCount = Math.max(1, Math.min(options.maxCount, READ_COUNT_MAX));
  const maxBytes = Math.max(1, Math.min(options.maxBytes, READ_BYTES_MAX));
  const filter = tagFilterOf(options.tags);
  const selected: Selected = { physicalOffsets: [], sizes: [], bytes: 0 };
  let next = queueOffset;
  let scanned = 0;
  let full = false;
  while (!full && next < queue.maxQueueOffset && scanned < READ_SCAN_ENTRIES_MAX) {
    if (next < queue.minQueueOffset) next = queue.minQueueOffset;
    const entries = await queue.readEntries(next, Math.min(ENTRIES_PER_CHUNK, READ_SCAN_ENTRIES_MAX - scanned, filter === undefined ? maxCount - selected.sizes.length : ENTRIES_PER_CHUNK));
    if (entries === undefined) {
      // Its file went away (retention): continue from the queue's new minimum, if it moved.
      if (next >= queue.minQueueOffset) break;
      continue;
    }
    const n = entryCount(entries);
    for (let i = 0; i < n; i++) {
      const physicalOffset = entryPhysicalOffset(entries, i);
      const size = entrySize(entries, i);
      if (physicalOffset >= minPhysicalOffset && (filter === undefined || hashMatches(filter, entryTagHigh(entries, i), entryTagLow(entries, i)))) {
        if (selected.sizes.length > 0 && selected.bytes + size > maxBytes) {
          full = true;
          break;
        }
        selected.physicalOffsets.push(physicalOffset);
        selected.sizes.push(size);
        selected.bytes += size;
      }
      next++;
      scanned++;
      if (selected.sizes.length >= maxCount) {
        full = true;
        break;
      }
    }
  }
  const headroom = Math.max(0, options.headroomBytes ?? 0);
  const { frame, count } = await readRecords(commitLog, selected, filter, headroom, options.allocateFrame);
  const status = count > 0 ? 'found' : next > queueOffset ? 'no-matched-message' : 'no-new-message';
  if (count === 0) return { status, records: Buffer.alloc(0), count, nextQueueOffset: next, ...range() };
  const records = frame.subarray(headroom);
  return { status, records, count, nextQueueOffset: next, ...range(), ...(headroom > 0 ? { frame } : {}) };
}

/**
 * Reads the selected records into one buffer after `headroom` free bytes (the frame); drops records
 * gone (retention) and, with a tag filter, hash collisions. The frame ends with the last kept record.
 */
async function readRecords(commitLog: CommitLog, selected: Selected, filter: TagFilter | undefined, headroom: number, allocate: ((bytes: number) => Buffer) | undefined): Promise<{ frame: Buffer; count: number }> {
  const { physicalOffsets, sizes } = selected;
  if (sizes.length === 0) return { frame: Buffer.alloc(0), count: 0 };
  const frameBytes = headroom + selected.bytes;
  const frame = allocate === undefined ? Buffer.allocUnsafe(frameBytes) : allocate(frameBytes);
  assert(frame.length === frameBytes, `frame allocator gave ${frame.length} bytes for ${frameBytes}`);
  const out = frame.subarray(headroom);
  const keep = new Array<boolean>(sizes.length).fill(true);
  const spans = planSpans(physicalOffsets, sizes, commitLog.segmentBytes);
  // Where each span's records go in `out`: after the records of the spans before it.
  const positions = new Array<number>(spans.length);
  let position = 0;
  for (let s = 0; s < spans.length; s++) {
    positions[s] = position;
    for (let i = spans[s]!.first; i <= spans[s]!.last; i++) position += sizes[i]!;
  }
  const readSpan = async (span: Span, position: number): Promise<void> => {
    if (span.gapless) {
      const got = await commitLog.readInto(span.physicalOffset, span.length, out, position);
      if (got < span.length) for (let i = span.first; i <= span.last; i++) keep[i] = false;
      return;
    }
    const scratch = Buffer.allocUnsafe(span.length);
    const got = await commitLog.readInto(span.physicalOffset, span.length, scratch, 0);
    let at = position;
    for (let i = span.first; i <= span.last; i++) {
      const from = physicalOffsets[i]! - span.physicalOffset;
      if (from + sizes[i]! > got) keep[i] = false;
      else scratch.copy(out, at, from, from + sizes[i]!);
      at += sizes[i]!;
    }
  };
  // Spans write disjoint parts of `out`: up to SPAN_READS_IN_FLIGHT_MAX run at once.
  let nextSpan = 0;
  const reader = async (): Promise<void> => {
    while (nextSpan < spans.length) {
      const s = nextSpan++;
      await readSpan(spans[s]!, positions[s]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SPAN_READS_IN_FLIGHT_MAX, spans.length) }, reader));
  let count = 0;
  let write = 0;
  let read = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (keep[i] && filter !== undefined && !filter.tags.has(decodeRecordIndexFields(out, read).tag)) keep[i] = false;
    if (keep[i]) {
      if (write !== read) out.copy(out, write, read, read + size);
      write += size;
      count++;
    }
    read += size;
  }
  return { frame: write === out.length ? frame : frame.subarray(0, headroom + write), count };
}
