// Where the store keeps its files, and the conversions between kinds of offsets (STYLE.md: offsets
// of different kinds are not interchangeable; convert in named functions).
import path from 'node:path';

const COMMIT_LOG_DIR = 'commitlog';
const CONSUME_QUEUE_DIR = 'consumequeue';
export const META_DIR = 'meta';
export const CHECKPOINT_FILE = 'checkpoint';
export const ABORT_MARKER_FILE = 'abort';

/** File names are the first offset they hold, zero-padded to 20 digits so that they sort. */
const OFFSET_FILE_NAME_DIGITS = 20;
const OFFSET_FILE_NAME = /^\d{20}$/;

export function offsetFileName(offset: number): string {
  return String(offset).padStart(OFFSET_FILE_NAME_DIGITS, '0');
}

/** The offset a file name stands for, or undefined for a file that is not ours. */
export function parseOffsetFileName(name: string): number | undefined {
  if (!OFFSET_FILE_NAME.test(name)) return undefined;
  const value = Number(name);
  return Number.isSafeInteger(value) ? value : undefined;
}

export function commitLogDir(dataDir: string): string {
  return path.join(dataDir, COMMIT_LOG_DIR);
}

export function consumeQueueRootDir(dataDir: string): string {
  return path.join(dataDir, CONSUME_QUEUE_DIR);
}

export function consumeQueueTopicDir(dataDir: string, topic: string): string {
  return path.join(dataDir, CONSUME_QUEUE_DIR, topic);
}

export function consumeQueueDir(dataDir: string, topic: string, queueId: number): string {
  return path.join(dataDir, CONSUME_QUEUE_DIR, topic, String(queueId));
}

/** Base physical offset of the segment holding `physicalOffset`: segments are aligned to their size. */
export function segmentBaseOf(physicalOffset: number, segmentBytes: number): number {
  return physicalOffset - (physicalOffset % segmentBytes);
}

/** Byte position inside its segment file. */
export function filePositionInSegment(physicalOffset: number, segmentBytes: number): number {
  return physicalOffset % segmentBytes;
}

export function bytesToSegmentEnd(physicalOffset: number, segmentBytes: number): number {
  return segmentBytes - (physicalOffset % segmentBytes);
}
