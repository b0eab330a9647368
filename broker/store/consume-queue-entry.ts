// One consume-queue entry, 20 bytes, big-endian (docs/storage.md):
//   0 u64 physicalOffset   8 u32 size   12 u32 tag hash high   16 u32 tag hash low
// Entry i of a file starts at file position i * 20. Pure.
import { readU64, writeU64 } from '../../common/record.js';

export const CONSUME_QUEUE_ENTRY_BYTES = 20;

export function writeEntry(buf: Buffer, index: number, physicalOffset: number, size: number, tagHigh: number, tagLow: number): void {
  const p = index * CONSUME_QUEUE_ENTRY_BYTES;
  writeU64(buf, p, physicalOffset);
  buf.writeUInt32BE(size, p + 8);
  buf.writeUInt32BE(tagHigh, p + 12);
  buf.writeUInt32BE(tagLow, p + 16);
}

export function entryPhysicalOffset(buf: Buffer, index: number): number {
  return readU64(buf, index * CONSUME_QUEUE_ENTRY_BYTES);
}

export function entrySize(buf: Buffer, index: number): number {
  return buf.readUInt32BE(index * CONSUME_QUEUE_ENTRY_BYTES + 8);
}

export function entryTagHigh(buf: Buffer, index: number): number {
  return buf.readUInt32BE(index * CONSUME_QUEUE_ENTRY_BYTES + 12);
}

export function entryTagLow(buf: Buffer, index: number): number {
  return buf.readUInt32BE(index * CONSUME_QUEUE_ENTRY_BYTES + 16);
}

export function entryCount(buf: Buffer): number {
  return Math.floor(buf.length / CONSUME_QUEUE_ENTRY_BYTES);
}
