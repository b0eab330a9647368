// The checkpoint file (dataDir/checkpoint) and the abort marker (dataDir/abort). The marker exists
// while the store is open: finding it at open means the last run did not close cleanly. The
// checkpoint records how far each derived structure is durable, so recovery knows where to start.
// JSON, replaced atomically (write temp, fsync, rename, fsync directory).
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory } from './commit-log.js';
import { ABORT_MARKER_FILE, CHECKPOINT_FILE } from './layout.js';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface Checkpoint {
  formatVersion: number;
  segmentBytes: number;
  /** Commit-log bytes below are fsynced. */
  commitLogFlushedPhysicalOffset: number;
  /** Consume-queue entries of every record below are fsynced. */
  consumeQueuePhysicalOffset: number;
  /** Every record below is in the level index (informational: level keeps its own progress). */
  indexPhysicalOffset: number;
  /** Per queue, its end when the checkpoint was taken: a queue found shorter lost entries and is rebuilt. */
  queues: [topic: string, queueId: number, maxQueueOffset: number][];
  writtenAtMs: number;
}

export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  return Buffer.from(JSON.stringify(checkpoint), 'utf8');
}

/** undefined when the bytes are not a checkpoint of this version (recovery then starts from the log's start). */
export function decodeCheckpoint(bytes: Buffer): Checkpoint | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const c = value as Partial<Checkpoint>;
  const numbers = [c.segmentBytes, c.commitLogFlushedPhysicalOffset, c.consumeQueuePhysicalOffset, c.indexPhysicalOffset, c.writtenAtMs];
  if (c.formatVersion !== CHECKPOINT_FORMAT_VERSION || !numbers.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) || !Array.isArray(c.queues)) return undefined;
  for (const q of c.queues) {
    if (!Array.isArray(q) || typeof q[0] !== 'string' || !Number.isSafeInteger(q[1]) || !Number.isSafeInteger(q[2])) return undefined;
  }
  return c as Checkpoint;
}

export async function readCheckpoint(dataDir: string): Promise<Checkpoint | undefined> {
  try {
    return decodeCheckpoint(await readFile(path.join(dataDir, CHECKPOINT_FILE)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function writeCheckpoint(dataDir: string, checkpoint: Checkpoint): Promise<void> {
  const file = path.join(dataDir, CHECKPOINT_FILE);
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(encodeCheckpoint(checkpoint));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(dataDir);
}

export async function abortMarkerExists(dataDir: string): Promise<boolean> {
  try {
    await stat(path.join(dataDir, ABORT_MARKER_FILE));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function createAbortMarker(dataDir: string): Promise<void> {
  const handle = await open(path.join(dataDir, ABORT_MARKER_FILE), 'w');
  await handle.sync();
  await handle.close();
  await syncDirectory(dataDir);
}

export async function removeAbortMarker(dataDir: string): Promise<void> {
  await rm(path.join(dataDir, ABORT_MARKER_FILE), { force: true });
  await syncDirectory(dataDir);
}
