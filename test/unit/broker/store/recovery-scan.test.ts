import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../../../broker/store/batch-encoder.js';
import { scanLog } from '../../../../broker/store/recovery-scan.js';
import { measureBatch } from '../../../../common/record.js';
import { messages } from './helpers.js';

const segmentBytes = 8192;
function log(n: number): { bytes: Buffer; ends: number[] } {
  const batch = messages('r', n, 900);
  const encoded = encodeBatch({ topic: 't', queueId: 0, firstQueueOffset: 0, startPhysicalOffset: 0, segmentBytes, storeTimestampMs: 1, messages: batch, sizes: measureBatch('t', batch) });
  return { bytes: Buffer.concat(encoded.chunks.map((c) => c.bytes)), ends: encoded.results.map((r) => r.physicalOffset + r.size) };
}

describe('scanning the log (pure)', () => {
  it('walks whole records and paddings to the end', () => {
    const { bytes, ends } = log(20);
    const scan = scanLog(bytes, 0, segmentBytes);
    expect(scan).toMatchObject({ stop: 'end', validEndPhysicalOffset: ends.at(-1) });
    expect(scan.records).toHaveLength(20);
  });

  it('stops before a torn last record', () => {
    const { bytes, ends } = log(5);
    const scan = scanLog(bytes.subarray(0, bytes.length - 100), 0, segmentBytes);
    expect(scan.stop).toBe('incomplete');
    expect(scan.validEndPhysicalOffset).toBe(ends[3]);
    expect(scan.records).toHaveLength(4);
  });

  it('stops at a flipped byte with the reason', () => {
    const { bytes, ends } = log(5);
    bytes[ends[2]! + 300]! ^= 0xff;
    const scan = scanLog(bytes, 0, segmentBytes);
    expect(scan).toMatchObject({ stop: 'corrupt', reason: 'crc mismatch', validEndPhysicalOffset: ends[2] });
  });

  it('stops at zeros after the last record', () => {
    const { bytes, ends } = log(3);
    const scan = scanLog(Buffer.concat([bytes, Buffer.alloc(64)]), 0, segmentBytes);
    expect(scan).toMatchObject({ stop: 'corrupt', validEndPhysicalOffset: ends[2] });
  });

  it('treats a padding cut short as complete for recovery but not for a slave', () => {
    const { bytes } = log(12); // 12 × ~960 bytes crosses the first 8192-byte segment
    const cut = bytes.subarray(0, segmentBytes - 10);
    expect(scanLog(cut, 0, segmentBytes).validEndPhysicalOffset).toBe(segmentBytes);
    const strict = scanLog(cut, 0, segmentBytes, true);
    expect(strict.stop).toBe('incomplete');
    expect(strict.validEndPhysicalOffset).toBeLessThan(segmentBytes);
  });
});
