// Pure: places a batch of records in the commit log (rolling to the next segment with a padding
// record when one does not fit) and encodes them into one buffer, plus the consume-queue entries
// and index items that the dispatcher applies once the bytes are written.
import { assert } from '../../common/errors.js';
import { encodePadding, encodeRecord, PADDING_HEADER_BYTES, tagHashParts } from '../../common/record.js';
import { CONSUME_QUEUE_ENTRY_BYTES, writeEntry } from './consume-queue-entry.js';
import { bytesToSegmentEnd } from './layout.js';
import type { AppendResult, StoreMessageInput } from './types.js';

/** Bytes for one place of the commit log, never crossing a segment end. */
export interface WriteChunk {
  physicalOffset: number;
  bytes: Buffer;
}

/** What the dispatcher applies for consecutive records of one queue. */
export interface DispatchBatch {
  topic: string;
  queueId: number;
  firstQueueOffset: number;
  /** count × 20 bytes of consume-queue entries. */
  entries: Buffer;
  messageIds: string[];
  keys: string[][];
  physicalOffsets: number[];
  sizes: number[];
  /** End of the last record: everything below is dispatched once this batch is. */
  endPhysicalOffset: number;
}

interface Placement {
  /** Physical offset of each record. */
  physicalOffsets: number[];
  /** Padding records to write: [physicalOffset, length]. */
  paddings: [number, number][];
  endPhysicalOffset: number;
}

/** Where each record goes: a record fits only if a padding header still fits after it. */
export function placeRecords(startPhysicalOffset: number, segmentBytes: number, sizes: readonly number[]): Placement {
  const physicalOffsets: number[] = [];
  const paddings: [number, number][] = [];
  let position = startPhysicalOffset;
  for (const size of sizes) {
    assert(size + PADDING_HEADER_BYTES <= segmentBytes, `record of ${size} bytes cannot fit a ${segmentBytes}-byte segment`);
    const remaining = bytesToSegmentEnd(position, segmentBytes);
    if (size + PADDING_HEADER_BYTES > remaining) {
      paddings.push([position, remaining]);
      position += remaining;
    }
    physicalOffsets.push(position);
    position += size;
  }
  return { physicalOffsets, paddings, endPhysicalOffset: position };
}

/** Splits [start, start + buffer.length) at segment ends. */
export function splitAtSegments(startPhysicalOffset: number, buffer: Buffer, segmentBytes: number): WriteChunk[] {
  const chunks: WriteChunk[] = [];
  let offset = startPhysicalOffset;
  let position = 0;
  while (position < buffer.length) {
    const take = Math.min(buffer.length - position, bytesToSegmentEnd(offset, segmentBytes));
    chunks.push({ physicalOffset: offset, bytes: buffer.subarray(position, position + take) });
    offset += take;
    position += take;
  }
  return chunks;
}

/** Tags whose hash is remembered: a broker sees few distinct tags, and hashing one costs a native call. */
const TAG_HASH_CACHE_ENTRIES_MAX = 4_096;
const tagHashCache = new Map<string, { high: number; low: number }>();

function cachedTagHash(tag: string): { high: number; low: number } {
  let hash = tagHashCache.get(tag);
  if (hash === undefined) {
    if (tagHashCache.size >= TAG_HASH_CACHE_ENTRIES_MAX) tagHashCache.clear();
    hash = tagHashParts(tag);
    tagHashCache.set(tag, hash);
  }
  return hash;
}

interface EncodeBatchInput {
  topic: string;
  queueId: number;
  firstQueueOffset: number;
  startPhysicalOffset: number;
  segmentBytes: number;
  storeTimestampMs: number;
  messages: readonly StoreMessageInput[];
  /** From measureBatch. */
  sizes: readonly number[];
}

export interface EncodedBatch {
  chunks: WriteChunk[];
  startPhysicalOffset: number;
  endPhysicalOffset: number;
  results: AppendResult[];
  dispatch: DispatchBatch;
}

export function encodeBatch(input: EncodeBatchInput): EncodedBatch {
  const { topic, queueId, firstQueueOffset, startPhysicalOffset, segmentBytes, storeTimestampMs, messages, sizes } = input;
  const placement = placeRecords(startPhysicalOffset, segmentBytes, sizes);
  const buffer = Buffer.allocUnsafe(placement.endPhysicalOffset - startPhysicalOffset);
  for (const [physicalOffset, length] of placement.paddings) {
    const position = physicalOffset - startPhysicalOffset;
    buffer.fill(0, position, position + length);
    encodePadding(buffer, position, length, physicalOffset);
  }
  const count = messages.length;
  const entries = Buffer.allocUnsafe(count * CONSUME_QUEUE_ENTRY_BYTES);
  const results: AppendResult[] = new Array<AppendResult>(count);
  const messageIds = new Array<string>(count);
  const keys = new Array<string[]>(count);
  let lastTag: string | undefined;
  let lastHash = { high: 0, low: 0 };
  // One placement object for the batch, updated per record (encodeRecord only reads it): no allocation per record.
  const recordPlacement = { topic, queueId, queueOffset: 0, physicalOffset: 0, storeTimestampMs };
  for (let i = 0; i < count; i++) {
    const message = messages[i]!;
    const size = sizes[i]!;
    const physicalOffset = placement.physicalOffsets[i]!;
    const queueOffset = firstQueueOffset + i;
    recordPlacement.queueOffset = queueOffset;
    recordPlacement.physicalOffset = physicalOffset;
    encodeRecord(buffer, physicalOffset - startPhysicalOffset, size, message, recordPlacement);
    if (message.tag !== lastTag) {
      lastTag = message.tag;
      lastHash = cachedTagHash(message.tag);
    }
    writeEntry(entries, i, physicalOffset, size, lastHash.high, lastHash.low);
    results[i] = { messageId: message.messageId, topic, queueId, queueOffset, physicalOffset, storeTimestampMs, size };
    messageIds[i] = message.messageId;
    keys[i] = message.keys;
  }
  return {
    chunks: splitAtSegments(startPhysicalOffset, buffer, segmentBytes),
    startPhysicalOffset,
    endPhysicalOffset: placement.endPhysicalOffset,
    results,
    dispatch: {
      topic,
      queueId,
      firstQueueOffset,
      entries,
      messageIds,
      keys,
      physicalOffsets: placement.physicalOffsets,
      sizes: sizes.slice(),
      endPhysicalOffset: placement.endPhysicalOffset,
    },
  };
}
