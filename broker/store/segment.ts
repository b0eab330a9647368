// One commit-log segment file: a fixed span [baseOffset, baseOffset + segmentBytes) of the log,
// named by its base offset (20 digits). The file holds only written bytes (no preallocation), so
// its length is where writing stopped. Closing waits for reads in flight (FileHandle semantics).
import { constants, readSync, writevSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { assert } from '../../common/errors.js';
import { offsetFileName } from './layout.js';

export class Segment {
  private closed = false;

  private constructor(
    readonly baseOffset: number,
    readonly path: string,
    private readonly handle: FileHandle,
    /** Bytes in the file. */
    public size: number,
  ) {}

  static async open(dir: string, baseOffset: number, create: boolean): Promise<Segment> {
    const file = path.join(dir, offsetFileName(baseOffset));
    const handle = await open(file, create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR, 0o644);
    try {
      const { size } = await handle.stat();
      return new Segment(baseOffset, file, handle, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get endOffset(): number {
    return this.baseOffset + this.size;
  }

  /** Writes the buffers back to back at `filePosition`, looping over short writes. */
  async write(buffers: Buffer[], filePosition: number): Promise<void> {
    assert(!this.closed, `write to closed segment ${this.baseOffset}`);
    let position = filePosition;
    let pending = buffers;
    for (;;) {
      let total = 0;
      for (const b of pending) total += b.length;
      if (total === 0) break;
      const { bytesWritten } = await this.handle.writev(pending, position);
      position += bytesWritten;
      if (bytesWritten === total) break;
      pending = dropBytes(pending, bytesWritten);
    }
    this.size = Math.max(this.size, position);
  }

  /**
   * The same write done synchronously on this thread (LogWriter, for small writes): a writev of a
   * few KiB into the page cache is cheaper here than the promise write's thread hand-offs through
   * libuv's pool (WRITE_NOW_BYTES_MAX in log-writer.ts says where the line is).
   */
  writeNow(buffers: Buffer[], filePosition: number): void {
    assert(!this.closed, `write to closed segment ${this.baseOffset}`);
    let position = filePosition;
    let pending = buffers;
    for (;;) {
      let total = 0;
      for (const b of pending) total += b.length;
      if (total === 0) break;
      const bytesWritten = writevSync(this.handle.fd, pending, position);
      position += bytesWritten;
      if (bytesWritten === total) break;
      pending = dropBytes(pending, bytesWritten);
    }
    this.size = Math.max(this.size, position);
  }

  /** Reads up to `length` bytes at `filePosition` into target[targetPosition…]; returns bytes read. */
  async read(filePosition: number, length: number, target: Buffer, targetPosition: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(target, targetPosition + done, length - done, filePosition + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  /**
   * The same read done synchronously on this thread: for bytes the page cache surely holds (the
   * log's hot tail, CommitLog.readInto) a pread of a few KiB costs less than the promise read's
   * work on this thread alone, and skips the hop through libuv's pool (and the queue behind fsyncs).
   */
  readNow(filePosition: number, length: number, target: Buffer, targetPosition: number): number {
    if (this.closed) return 0;
    let done = 0;
    while (done < length) {
      const bytesRead = readSync(this.handle.fd, target, targetPosition + done, length - done, filePosition + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async datasync(): Promise<void> {
    if (!this.closed) await this.handle.datasync();
  }

  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
    this.size = size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  /** Deletes the file; reads already started finish first. */
  async remove(): Promise<void> {
    await this.close();
    await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
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
