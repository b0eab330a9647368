// One consume queue (topic, queueId): files of fixed 20-byte entries (consume-queue-entry.ts),
// each file holding `entriesPerFile` entries and named by its first queue offset (20 digits).
// New entries sit in memory until the next write (flush tick or CONSUME_QUEUE_WRITE_THRESHOLD_BYTES);
// reads see both. File changes (writes, deletions) run one at a time on a chain. Descriptors come
// from the store's open-file cache (file-handle-cache.ts): a queue holds none while idle.
import { mkdir, readdir, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { assert } from '../../common/errors.js';
import { CONSUME_QUEUE_ENTRY_BYTES as ENTRY, entryPhysicalOffset, entrySize } from './consume-queue-entry.js';
import { isOutOfDescriptors, type CachedFile, type FileHandleCache } from './file-handle-cache.js';
import { offsetFileName, parseOffsetFileName } from './layout.js';
import { CONSUME_QUEUE_READ_AHEAD_ENTRIES } from './store-limits.js';

/** Zero entries looked at from the tail for a torn consume-queue write. */
const TORN_ENTRIES_SCAN_MAX = 1_024;

interface QueueFile {
  firstQueueOffset: number;
  path: string;
  file: CachedFile;
  /** Entries written to the file. */
  entries: number;
}

interface QueueLoadReport {
  droppedFiles: number;
  truncatedEntries: number;
}

export class ConsumeQueue {
  private files: QueueFile[] = [];
  minQueueOffset: number;
  /** One past the last readable entry (files and memory). */
  maxQueueOffset: number;
  /** Next queue offset handed to an append (≥ maxQueueOffset while appends are in flight). */
  nextQueueOffset: number;
  /** Entries below are in files. */
  private writtenQueueOffset: number;
  private pending = Buffer.allocUnsafe(64 * ENTRY);
  private chain: Promise<void> = Promise.resolve();
  private readonly unsynced = new Set<QueueFile>();
  /** The last chunk read from a file, for sequential readers asking for a few entries at a time. */
  private readAhead: { firstQueueOffset: number; entries: Buffer } | undefined;

  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly dir: string,
    readonly entriesPerFile: number,
    startQueueOffset: number,
    private readonly cache: FileHandleCache,
  ) {
    this.minQueueOffset = startQueueOffset;
    this.maxQueueOffset = startQueueOffset;
    this.writtenQueueOffset = startQueueOffset;
    this.nextQueueOffset = startQueueOffset;
  }

  get pendingBytes(): number {
    return (this.maxQueueOffset - this.writtenQueueOffset) * ENTRY;
  }

  /**
   * Finds the files of a queue (by name and size: no descriptor stays open), dropping what does not
   * continue the previous file and a partial last entry.
   */
  static async load(dir: string, topic: string, queueId: number, entriesPerFile: number, cache: FileHandleCache): Promise<{ queue: ConsumeQueue; report: QueueLoadReport }> {
    const report: QueueLoadReport = { droppedFiles: 0, truncatedEntries: 0 };
    const firsts = (await readdir(dir)).map(parseOffsetFileName).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
    const queue = new ConsumeQueue(topic, queueId, dir, entriesPerFile, firsts[0] ?? 0, cache);
    for (const first of firsts) {
      const previous = queue.files.at(-1);
      const file = queue.queueFile(first, false);
      if (previous !== undefined && (previous.entries !== entriesPerFile || previous.firstQueueOffset + entriesPerFile !== first)) {
        report.droppedFiles++;
        await rm(file.path, { force: true });
        continue;
      }
      const { size } = await stat(file.path);
      file.entries = Math.min(entriesPerFile, Math.floor(size / ENTRY));
      if (size !== file.entries * ENTRY) await truncate(file.path, file.entries * ENTRY);
      queue.files.push(file);
    }
    const last = queue.files.at(-1);
    queue.maxQueueOffset = last === undefined ? queue.minQueueOffset : last.firstQueueOffset + last.entries;
    queue.writtenQueueOffset = queue.maxQueueOffset;
    queue.nextQueueOffset = queue.maxQueueOffset;
    return { queue, report };
  }

  /** Adds entries for queue offsets [firstQueueOffset, …) in memory; they are readable at once. */
  append(entries: Buffer, firstQueueOffset: number): void {
    assert(firstQueueOffset === this.maxQueueOffset, `consume queue ${this.topic}/${this.queueId}: entry ${firstQueueOffset} does not follow ${this.maxQueueOffset}`);
    const used = this.pendingBytes;
    if (used + entries.length > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.pending.length * 2, used + entries.length));
      this.pending.copy(grown, 0, 0, used);
      this.pending = grown;
    }
    entries.copy(this.pending, used);
    this.maxQueueOffset += entries.length / ENTRY;
  }

  /** Writes the entries held in memory to their files. */
  writePending(): Promise<void> {
    return this.enqueue(() => this.doWrite());
  }

  /** Writes and fdatasyncs. */
  sync(): Promise<void> {
    return this.enqueue(async () => {
      await this.doWrite();
      for (const file of this.unsynced) {
        await this.cache.datasync(file.file);
        this.unsynced.delete(file);
      }
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async doWrite(): Promise<void> {
    const count = this.maxQueueOffset - this.writtenQueueOffset;
    if (count === 0) return;
    const source = this.pending;
    let done = 0;
    while (done < count) {
      const queueOffset = this.writtenQueueOffset + done;
      const file = await this.fileForWrite(queueOffset);
      const index = queueOffset - file.firstQueueOffset;
      const n = Math.min(count - done, this.entriesPerFile - index);
      await this.cache.use(file.file, (handle) => writeFully(handle, source.subarray(done * ENTRY, (done + n) * ENTRY), index * ENTRY), true);
      file.entries = index + n;
      this.unsynced.add(file);
      done += n;
    }
    // Entries appended meanwhile went to this.pending (maybe a new buffer); keep only those.
    const left = this.maxQueueOffset - this.writtenQueueOffset - count;
    this.pending.copyWithin(0, count * ENTRY, (count + left) * ENTRY);
    this.writtenQueueOffset += count;
  }

  private async fileForWrite(queueOffset: number): Promise<QueueFile> {
    const last = this.files.at(-1);
    if (last !== undefined && queueOffset < last.firstQueueOffset + this.entriesPerFile) return last;
    assert(last === undefined || queueOffset === last.firstQueueOffset + this.entriesPerFile, 'consume-queue file gap');
    if (last !== undefined && this.unsynced.has(last)) {
      await this.cache.datasync(last.file);
      this.unsynced.delete(last);
    }
    await mkdir(this.dir, { recursive: true });
    const file = this.queueFile(queueOffset, true);
    this.files.push(file);
    return file;
  }

  private queueFile(firstQueueOffset: number, create: boolean): QueueFile {
    const filePath = path.join(this.dir, offsetFileName(firstQueueOffset));
    return { firstQueueOffset, path: filePath, file: this.cache.file(filePath, { create }), entries: 0 };
  }

  private fileIndexFor(queueOffset: number): number {
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.files[mid]!.firstQueueOffset <= queueOffset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Entries from queueOffset on, at most maxEntries, from one file or from memory (one positioned
   * read). undefined if the file went away meanwhile (retention); the caller rechecks the range.
   */
  async readEntries(queueOffset: number, maxEntries: number): Promise<Buffer | undefined> {
    assert(queueOffset >= this.minQueueOffset && queueOffset < this.maxQueueOffset, `read entry ${queueOffset} outside [${this.minQueueOffset}, ${this.maxQueueOffset})`);
    if (queueOffset >= this.writtenQueueOffset) {
      const index = queueOffset - this.writtenQueueOffset;
      const n = Math.min(maxEntries, this.maxQueueOffset - queueOffset);
      return Buffer.from(this.pending.subarray(index * ENTRY, (index + n) * ENTRY));
    }
    const cached = this.readAhead;
    if (cached !== undefined && queueOffset >= cached.firstQueueOffset && queueOffset < cached.firstQueueOffset + cached.entries.length / ENTRY) {
      const from = (queueOffset - cached.firstQueueOffset) * ENTRY;
      return cached.entries.subarray(from, Math.min(cached.entries.length, from + maxEntries * ENTRY));
    }
    const file = this.files[this.fileIndexFor(queueOffset)];
    if (file === undefined) return undefined;
    const index = queueOffset - file.firstQueueOffset;
    const inFile = Math.min(file.entries, this.writtenQueueOffset - file.firstQueueOffset);
    const n = Math.min(Math.max(maxEntries, CONSUME_QUEUE_READ_AHEAD_ENTRIES), inFile - index);
    if (n <= 0) return undefined;
    const out = Buffer.allocUnsafe(n * ENTRY);
    try {
      const { bytesRead } = await this.cache.use(file.file, (handle) => handle.read(out, 0, out.length, index * ENTRY));
      if (bytesRead !== out.length) return undefined;
    } catch (err) {
      if (isOutOfDescriptors(err)) throw err; // SERVICE_UNAVAILABLE for the caller, not "no message"
      return undefined; // closed or deleted meanwhile (retention)
    }
    // Written entries never change (truncation drops the cache), so later reads may share this buffer.
    this.readAhead = { firstQueueOffset: queueOffset, entries: out };
    return out.subarray(0, Math.min(n, maxEntries) * ENTRY);
  }

  /** Physical offset and size of one entry. */
  async entry(queueOffset: number): Promise<{ physicalOffset: number; size: number } | undefined> {
    const buf = await this.readEntries(queueOffset, 1);
    return buf === undefined ? undefined : { physicalOffset: entryPhysicalOffset(buf, 0), size: entrySize(buf, 0) };
  }

  /**
   * Recovery: drops tail entries that point past the log end (the log lost its tail) or are zero
   * (a torn consume-queue write). Physical offsets grow with queue offsets, so a binary search
   * finds the cut. Returns the entries dropped.
   */
  async dropEntriesPastLogEnd(logEndPhysicalOffset: number): Promise<number> {
    const before = this.maxQueueOffset;
    let end = before;
    for (let i = 0; i < TORN_ENTRIES_SCAN_MAX && end > this.minQueueOffset; i++) {
      const found = await this.entry(end - 1);
      if (found === undefined || found.size !== 0) break;
      end--;
    }
    let lo = this.minQueueOffset;
    let hi = end;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const found = await this.entry(mid);
      if (found === undefined || found.physicalOffset + found.size > logEndPhysicalOffset) hi = mid;
      else lo = mid + 1;
    }
    if (lo < before) await this.truncateTo(lo);
    return before - lo;
  }

  /** Where the record after the last entry starts at the earliest (recovery rebuilds from there). */
  async lastEntryEnd(): Promise<number | undefined> {
    if (this.maxQueueOffset === this.minQueueOffset) return undefined;
    const found = await this.entry(this.maxQueueOffset - 1);
    return found === undefined ? undefined : found.physicalOffset + found.size;
  }

  /** Drops entries from queueOffset on (recovery: entries past the log end). */
  truncateTo(queueOffset: number): Promise<void> {
    this.readAhead = undefined;
    return this.enqueue(async () => {
      assert(queueOffset <= this.maxQueueOffset, 'truncate past the end');
      if (queueOffset < this.writtenQueueOffset) {
        while (this.files.length > 0 && this.files.at(-1)!.firstQueueOffset >= queueOffset && this.files.length > 1) {
          await removeFile(this.cache, this.files.pop()!);
        }
        const last = this.files.at(-1)!;
        last.entries = Math.max(0, queueOffset - last.firstQueueOffset);
        await this.cache.use(last.file, (handle) => handle.truncate(last.entries * ENTRY), true);
        this.writtenQueueOffset = last.firstQueueOffset + last.entries;
      }
      this.maxQueueOffset = Math.max(queueOffset, this.writtenQueueOffset);
      this.minQueueOffset = Math.min(this.minQueueOffset, this.maxQueueOffset);
      this.nextQueueOffset = this.maxQueueOffset;
    });
  }

  /** Forgets every entry and continues at startQueueOffset (the entries before it are gone from the log). */
  restartAt(startQueueOffset: number): void {
    const old = this.files;
    this.files = [];
    this.readAhead = undefined;
    this.unsynced.clear();
    this.minQueueOffset = startQueueOffset;
    this.maxQueueOffset = startQueueOffset;
    this.writtenQueueOffset = startQueueOffset;
    this.nextQueueOffset = startQueueOffset;
    void this.enqueue(async () => {
      for (const file of old) await removeFile(this.cache, file);
    });
  }

  /**
   * Retention: moves the minimum past entries whose records are below minPhysicalOffset and
   * deletes files holding only such entries (never the last file).
   */
  advanceMin(minPhysicalOffset: number): Promise<void> {
    return this.enqueue(async () => {
      while (this.files.length > 1) {
        const first = this.files[0]!;
        const lastEntry = first.entries > 0 ? await this.entry(first.firstQueueOffset + first.entries - 1) : undefined;
        if (lastEntry !== undefined && lastEntry.physicalOffset >= minPhysicalOffset) break;
        this.files.shift();
        this.unsynced.delete(first);
        await removeFile(this.cache, first);
      }
      this.minQueueOffset = Math.max(this.minQueueOffset, this.files[0]?.firstQueueOffset ?? this.writtenQueueOffset);
      // First entry at or past minPhysicalOffset: physical offsets grow with queue offsets.
      let lo = this.minQueueOffset;
      let hi = this.maxQueueOffset;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const found = await this.entry(mid);
        if (found !== undefined && found.physicalOffset >= minPhysicalOffset) hi = mid;
        else lo = mid + 1;
      }
      this.minQueueOffset = lo;
    });
  }

  /** Gives the descriptors back (without a sync: flushAll ran before). */
  async close(): Promise<void> {
    await this.chain;
    for (const file of this.files) await this.cache.drop(file.file);
  }

  /** Closes and deletes the queue's directory. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function writeFully(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Deletes a file; a read in flight on it finishes first on the unlinked file. */
async function removeFile(cache: FileHandleCache, file: QueueFile): Promise<void> {
  await cache.drop(file.file);
  await rm(file.path, { force: true });
}
