import { describe, expect, it } from 'vitest';
import { encodeBatch, placeRecords, splitAtSegments } from '../../../../broker/store/batch-encoder.js';
import { entryPhysicalOffset, entrySize, entryTagHigh } from '../../../../broker/store/consume-queue-entry.js';
import { scanLog } from '../../../../broker/store/recovery-scan.js';
import { measureBatch, PADDING_HEADER_BYTES, tagHashParts } from '../../../../common/record.js';
import { messages } from './helpers.js';

describe('placing records in segments', () => {
  it('rolls to the next segment with a padding record when a record and a padding header do not fit', () => {
    const placement = placeRecords(900, 1000, [50, 60]);
    expect(placement.physicalOffsets).toEqual([900, 1000]);
    expect(placement.paddings).toEqual([[950, 50]]);
    expect(placement.endPhysicalOffset).toBe(1060);
  });

  it('keeps a record that leaves exactly a padding header free', () => {
    const placement = placeRecords(0, 1000, [1000 - PADDING_HEADER_BYTES]);
    expect(placement.paddings).toEqual([]);
    expect(placement.endPhysicalOffset).toBe(1000 - PADDING_HEADER_BYTES);
  });

  it('splits bytes at segment ends', () => {
    const chunks = splitAtSegments(990, Buffer.alloc(30), 1000);
    expect(chunks.map((c) => [c.physicalOffset, c.bytes.length])).toEqual([[990, 10], [1000, 20]]);
  });
});

describe('encoding a batch', () => {
  it('produces valid records with contiguous queue offsets, entries and results, across a segment end', () => {
    const segmentBytes = 4096;
    const batch = messages('m', 10, 500, { tag: 'red' });
    const sizes = measureBatch('orders', batch);
    const encoded = encodeBatch({ topic: 'orders', queueId: 2, firstQueueOffset: 40, startPhysicalOffset: 3000, segmentBytes, storeTimestampMs: 123, messages: batch, sizes });
    expect(encoded.results.map((r) => r.queueOffset)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
    expect(encoded.chunks.every((c) => Math.floor(c.physicalOffset / segmentBytes) === Math.floor((c.physicalOffset + c.bytes.length - 1) / segmentBytes))).toBe(true);
    const all = Buffer.concat(encoded.chunks.map((c) => c.bytes));
    const scan = scanLog(all, 3000, segmentBytes);
    expect(scan.stop).toBe('end');
    expect(scan.validEndPhysicalOffset).toBe(encoded.endPhysicalOffset);
    expect(scan.records.map((r) => [r.messageId, r.queueOffset, r.physicalOffset])).toEqual(encoded.results.map((r) => [r.messageId, r.queueOffset, r.physicalOffset]));
    expect(encoded.results[0]!.physicalOffset).toBe(3000);
    expect(encoded.results.some((r) => r.physicalOffset === 4096)).toBe(true); // rolled
    for (let i = 0; i < 10; i++) {
      expect(entryPhysicalOffset(encoded.dispatch.entries, i)).toBe(encoded.results[i]!.physicalOffset);
      expect(entrySize(encoded.dispatch.entries, i)).toBe(sizes[i]);
      expect(entryTagHigh(encoded.dispatch.entries, i)).toBe(tagHashParts('red').high);
    }
  });
});
