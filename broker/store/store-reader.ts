// Reads besides the queue read path: time search, last store time, lookups by id and key. Each
// record found through the index is read back and checked (CRC, id or key) before it is returned,
// so stale index entries (a truncated tail, a recycled offset) never surface.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { checkRecordAt, decodeRecordIndexFields, readU64, RECORD_STORE_TIMESTAMP_POSITION } from '../../common/record.js';
import type { CommitLog } from './commit-log.js';
import type { ConsumeQueues } from './consume-queues.js';
import type { IndexLocation, MessageIndex } from './message-index.js';
import { outOfRange } from './read-path.js';
import { LOOKUP_KEY_RESULTS_MAX } from './store-limits.js';
import type { ReadResult } from './types.js';

export class StoreReader {
  constructor(
    private readonly commitLog: CommitLog,
    private readonly queues: ConsumeQueues,
    private readonly index: MessageIndex,
    private readonly maxPhysicalOffset: () => number,
  ) {}

  /**
   * Raw log bytes for replication, up to `endPhysicalOffset` (written or flushed end). Below the log
   * start → REPLICATION_DATA_GONE; past the written end → OFFSET_OUT_OF_RANGE.
   */
  async readCommitLog(physicalOffset: number, maxBytes: number, endPhysicalOffset: number): Promise<Buffer> {
    const minPhysicalOffset = this.commitLog.minPhysicalOffset;
    const maxPhysicalOffset = this.maxPhysicalOffset();
    if (physicalOffset < minPhysicalOffset) {
      throw new ConveyorError(ErrorCode.REPLICATION_DATA_GONE, `commit-log bytes from ${physicalOffset} are gone; the log starts at ${minPhysicalOffset}`, {
        physicalOffset,
        minPhysicalOffset,
        maxPhysicalOffset: endPhysicalOffset,
      });
    }
    if (physicalOffset > maxPhysicalOffset) {
      throw new ConveyorError(ErrorCode.OFFSET_OUT_OF_RANGE, `physical offset ${physicalOffset} is past the end of the log (${maxPhysicalOffset})`, {
        physicalOffset,
        minPhysicalOffset,
        maxPhysicalOffset,
      });
    }
    return this.commitLog.readRange(physicalOffset, maxBytes, endPhysicalOffset);
  }

  /** A queue never written: offset 0 is its (empty) end, anything else is out of range. */
  async readUnknownQueue(topic: string, queueId: number, queueOffset: number): Promise<ReadResult> {
    if (queueOffset !== 0) throw outOfRange(topic, queueId, queueOffset, 0, 0);
    return { status: 'no-new-message', records: Buffer.alloc(0), count: 0, nextQueueOffset: 0, minQueueOffset: 0, maxQueueOffset: 0 };
  }

  private async storeTimestampAt(queueOffset: number, topic: string, queueId: number): Promise<number | undefined> {
    const entry = await this.queues.get(topic, queueId)?.entry(queueOffset);
    if (entry === undefined) return undefined;
    const buf = Buffer.allocUnsafe(8);
    const got = await this.commitLog.readInto(entry.physicalOffset + RECORD_STORE_TIMESTAMP_POSITION, 8, buf, 0);
    return got === 8 ? readU64(buf, 0) : undefined;
  }

  /** First queue offset whose record was stored at or after timestampMs (binary search); the max offset if none. */
  async searchOffset(topic: string, queueId: number, timestampMs: number): Promise<number> {
    const queue = this.queues.get(topic, queueId);
    if (queue === undefined) return 0;
    let lo = queue.minQueueOffset;
    let hi = queue.maxQueueOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const stored = await this.storeTimestampAt(mid, topic, queueId);
      if (stored !== undefined && stored >= timestampMs) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Store time of the queue's last record; 0 for an empty queue. */
  async lastStoreTimestamp(topic: string, queueId: number): Promise<number> {
    const queue = this.queues.get(topic, queueId);
    if (queue === undefined || queue.maxQueueOffset === queue.minQueueOffset) return 0;
    return (await this.storeTimestampAt(queue.maxQueueOffset - 1, topic, queueId)) ?? 0;
  }

  /**
   * Where the queue's part of the log tail starts: the first entry stored at or after `sinceMs` and
   * at or after `minPhysicalOffset` (both grow with the queue offset, so a binary search finds it),
   * and the store time of the entry before it (null: none, or the queue is empty from there).
   */
  async tailStart(topic: string, queueId: number, sinceMs: number, minPhysicalOffset: number): Promise<{ physicalOffset: number | null; previousStoreTimestampMs: number | null }> {
    const queue = this.queues.get(topic, queueId);
    if (queue === undefined) return { physicalOffset: null, previousStoreTimestampMs: null };
    let lo = queue.minQueueOffset;
    let hi = queue.maxQueueOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const entry = await queue.entry(mid);
      const stored = await this.storeTimestampAt(mid, topic, queueId);
      if (entry !== undefined && entry.physicalOffset >= minPhysicalOffset && stored !== undefined && stored >= sinceMs) hi = mid;
      else lo = mid + 1;
    }
    const start = lo < queue.maxQueueOffset ? await queue.entry(lo) : undefined;
    const previous = lo > queue.minQueueOffset ? await this.storeTimestampAt(lo - 1, topic, queueId) : undefined;
    return { physicalOffset: start?.physicalOffset ?? null, previousStoreTimestampMs: previous ?? null };
  }

  /** The whole record at a location, if it is still there and intact. */
  private async recordAt(location: IndexLocation): Promise<Buffer | undefined> {
    const { physicalOffset, size } = location;
    if (physicalOffset < this.commitLog.minPhysicalOffset || physicalOffset + size > this.maxPhysicalOffset()) return undefined;
    const buf = Buffer.allocUnsafe(size);
    const got = await this.commitLog.readInto(physicalOffset, size, buf, 0);
    if (got !== size) return undefined;
    const check = checkRecordAt(buf, 0, Number.POSITIVE_INFINITY, physicalOffset);
    return check.kind === 'record' && check.size === size ? buf : undefined;
  }

  async lookupById(messageId: string): Promise<Buffer | null> {
    for (const location of await this.index.locateId(messageId, this.commitLog.minPhysicalOffset, this.maxPhysicalOffset())) {
      const record = await this.recordAt(location);
      if (record !== undefined && decodeRecordIndexFields(record).messageId === messageId) return record;
    }
    return null;
  }

  /** Records of the topic carrying the key, newest first, at most maxCount (≤ LOOKUP_KEY_RESULTS_MAX). */
  async lookupByKey(topic: string, key: string, maxCount: number): Promise<Buffer[]> {
    const limit = Math.max(0, Math.min(maxCount, LOOKUP_KEY_RESULTS_MAX));
    const out: Buffer[] = [];
    if (limit === 0) return out;
    for (const location of await this.index.locateKey(topic, key, limit, this.commitLog.minPhysicalOffset, this.maxPhysicalOffset())) {
      const record = await this.recordAt(location);
      if (record === undefined) continue;
      const fields = decodeRecordIndexFields(record);
      if (fields.topic === topic && fields.keys.includes(key)) out.push(record);
      if (out.length >= limit) break;
    }
    return out;
  }
}
