// One commit-log segment file: a fixed span [baseOffset, baseOffset + segmentBytes) of the log,
// named by its base offset (20 digits). The file holds only written bytes (no preallocation), so
// its length is where writing stopped. Its descriptor comes from the store's open-file cache
// (file-handle-cache.ts): opened on use, closed when idle and the budget is reached; the commit
// log keeps its tail segment pinned open. Deleting waits for reads in flight before the close.
import { readSync, writevSync } from 'node:fs';
import { stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { assert } from '../../common/errors.js';
import type { CachedFile, FileHandleCache } from './file-handle-cache.js';
import { offsetFileName } from './layout.js';

export class Segment {
  private closed = false;
  private pinned = false;

  private constructor(
    readonly baseOffset: number,
    readonly path: string,
    private readonly cache: FileHandleCache,
    private readonly file: CachedFile,
    /** Bytes in the file. */
    public size: number,
  ) {}

  /** An existing segment is only stat'ed (no descriptor); a new one is created (opened once through the cache). */
  static async open(dir: string, baseOffset: number, create: boolean, cache: FileHandleCache): Promise<Segment> {
    const filePath = path.join(dir, offsetFileName(baseOffset));
    const file = cache.file(filePath, { create });
    const size = create ? await cache.use(file, async (handle) => (await handle.stat()).size) : (await stat(filePath)).size;
    return new Segment(baseOffset, filePath, cache, file, size);
  }

  get endOffset(): number {
    return this.baseOffset + this.size;
  }

  /** Keeps the descriptor open (the tail segment: synchronous writes and reads need it). */
  async pin(): Promise<void> {
    assert(!this.pinned, `segment ${this.baseOffset} pinned twice`);
    await this.cache.pin(this.file);
    this.pinned = true;
  }

  unpin(): void {
    if (!this.pinned) return;
    this.pinned = false;
    this.cache.unpin(this.file);
  }

  /** The synchronous paths (writeNow, readNow) can run: the descriptor is open now. */
  get isOpenNow(): boolean {
    return !this.closed && this.cache.openNow(this.file) !== undefined;
  }

  /** Writes the buffers back to back at `filePosition`, looping over short writes. */
  async write(buffers: Buffer[], filePosition: number): Promise<void> {
    assert(!this.closed, `write to closed segment ${this.baseOffset}`);
    const end = await this.cache.use(this.file, (handle) => writeAll(handle, buffers, filePosition), true);
    this.size = Math.max(this.size, end);
  }

  /**
   * The same write done synchronously on this thread (LogWriter, for small writes): a writev of a
   * few KiB into the page cache is cheaper here than the promise write's thread hand-offs through
   * libuv's pool (WRITE_NOW_BYTES_MAX in log-writer.ts says where the line is). Only while
   * isOpenNow (CommitLog.writeChunksNow checks).
   */
  writeNow(buffers: Buffer[], filePosition: number): void {
    assert(!this.closed, `write to closed segment ${this.baseOffset}`);
    const handle = this.cache.openNow(this.file);
    assert(handle !== undefined, `synchronous write to segment ${this.baseOffset} whose file is not open`);
    this.cache.markDirty(this.file);
    let position = filePosition;
    let pending = buffers;
    for (;;) {
      let total = 0;
      for (const b of pending) total += b.length;
      if (total === 0) break;
      const bytesWritten = writevSync(handle.fd, pending, position);
      position += bytesWritten;
      if (bytesWritten === total) break;
      pending = dropBytes(pending, bytesWritten);
    }
    this.size = Math.max(this.size, position);
  }

  /** Reads up to `length` bytes at `filePosition` into target[targetPosition…]; returns bytes read. */
  async read(filePosition: number, length: number, target: Buffer, targetPosition: number): Promise<number> {
    return this.cache.use(this.file, async (handle) => {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(target, targetPosition + done, length - done, filePosition + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    });
  }

  /**
   * The same read done synchronously on this thread: for bytes the page cache surely holds (the
   * log's hot tail, CommitLog.readInto) a pread of a few KiB costs less than the promise read's
   * work on this thread alone, and skips the hop through libuv's pool (and the queue behind fsyncs).
   * undefined when the file is not open right now (the caller reads through `read`).
   */
  readNow(filePosition: number, length: number, target: Buffer, targetPosition: number): number | undefined {
    if (this.closed) return 0;
    const handle = this.cache.openNow(this.file);
    if (handle === undefined) return undefined;
    let done = 0;
    while (done < length) {
      const bytesRead = readSync(handle.fd, target, targetPosition + done, length - done, filePosition + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  /** fdatasync if written since the last one (an evicted file was synced before its close). */
  async datasync(): Promise<void> {
    if (!this.closed) await this.cache.datasync(this.file);
  }

  async truncate(size: number): Promise<void> {
    await this.cache.use(this.file, (handle) => handle.truncate(size), true);
    this.size = size;
  }

  /** Gives the descriptor back (without a sync: the writer flushed what it needs before). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unpin();
    await this.cache.drop(this.file);
  }

  /** Deletes the file; reads already started finish first (on the unlinked file). */
  async remove(): Promise<void> {
    await this.close();
    await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

async function writeAll(handle: FileHandle, buffers: Buffer[], filePosition: number): Promise<number> {
  let position = filePosition;
  let pending = buffers;
  for (;;) {
    let total = 0;
    for (const b of pending) total += b.length;
    if (total === 0) break;
    const { bytesWritten } = await handle.writev(pending, position);
    position += bytesWritten;
    if (bytesWritten === total) break;
    pending = dropBytes(pending, bytesWritten);
  }
  return position;
}

function dropBytes(buffers: Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = bytes;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
