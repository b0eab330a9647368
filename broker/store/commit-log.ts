// The commit log as a run of segment files: finding, creating, reading, syncing, truncating and
// deleting them. Positions and their bookkeeping (what is written, flushed) belong to the writer
// (log-writer.ts); this file only turns physical offsets into file I/O. Segment descriptors come
// from the store's open-file cache; the last segment (where appends go) is kept pinned open.
import { mkdir, open, readdir } from 'node:fs/promises';
import { assert, ConveyorError, ErrorCode } from '../../common/errors.js';
import type { WriteChunk } from './batch-encoder.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { filePositionInSegment, parseOffsetFileName, segmentBaseOf } from './layout.js';
import { Segment } from './segment.js';

/**
 * Reads of bytes this close to the end of the log are done synchronously (Segment.readNow): they
 * were written moments ago and are in the page cache, so a pread is a few µs and never waits for
 * the disk; older bytes may have to come from the disk and are read on libuv's pool, so a cold
 * read never stalls the event loop. Tailing consumers and the replication stream read here, so
 * these reads are most of a master's reads (docs/performance.md "Numbers that shaped the code").
 */
export const HOT_TAIL_BYTES = 16 * 1024 * 1024;

export class CommitLog {
  /** The segment kept pinned open: the last one. */
  private pinnedTail: Segment | undefined;

  private constructor(
    readonly dir: string,
    readonly segmentBytes: number,
    /** Sorted by base offset, contiguous. */
    private readonly segments: Segment[],
    private readonly cache: FileHandleCache,
  ) {}

  /** Lists the segments (no descriptor is held for them but the last one's). */
  static async open(dir: string, segmentBytes: number, cache: FileHandleCache): Promise<CommitLog> {
    await mkdir(dir, { recursive: true });
    const bases = (await readdir(dir))
      .map(parseOffsetFileName)
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    for (const base of bases) {
      if (base % segmentBytes !== 0) {
        throw new ConveyorError(ErrorCode.CONFIG_INVALID, `commit-log segment ${base} is not aligned to segmentBytes ${segmentBytes}: the data directory was written with another segment size`, { baseOffset: base, segmentBytes });
      }
      segments.push(await Segment.open(dir, base, false, cache));
    }
    const commitLog = new CommitLog(dir, segmentBytes, segments, cache);
    await commitLog.pinTail();
    return commitLog;
  }

  /** Moves the pin to the last segment (after it changed: a new segment, a truncation, a deletion). */
  private async pinTail(): Promise<void> {
    const last = this.segments.at(-1);
    if (last === this.pinnedTail) return;
    const previous = this.pinnedTail;
    this.pinnedTail = undefined;
    if (last !== undefined) {
      await last.pin();
      this.pinnedTail = last;
    }
    previous?.unpin();
  }

  /** The open-file cache's counters (StoreStats). */
  get fileCache(): FileHandleCache {
    return this.cache;
  }

  /** First byte still on disk; the end of the log when no segment exists. */
  get minPhysicalOffset(): number {
    return this.segments[0]?.baseOffset ?? this.endFromFiles;
  }

  /** End of the bytes in the files (after recovery, the end of the log). */
  get endFromFiles(): number {
    const last = this.segments[this.segments.length - 1];
    return last === undefined ? this.emptyStart : last.endOffset;
  }

  /** Where an empty log starts (0, or where a slave was told to start). */
  emptyStart = 0;

  get segmentList(): readonly Segment[] {
    return this.segments;
  }

  /** The segment holding `physicalOffset`, if still on disk. */
  segmentAt(physicalOffset: number): Segment | undefined {
    const base = segmentBaseOf(physicalOffset, this.segmentBytes);
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const segment = this.segments[mid]!;
      if (segment.baseOffset === base) return segment;
      if (segment.baseOffset < base) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The open segment with this base, if any (the last one first: where appends go). */
  private openSegment(base: number): Segment | undefined {
    const last = this.segments[this.segments.length - 1];
    return last !== undefined && last.baseOffset === base ? last : this.segmentAt(base);
  }

  private async segmentForWrite(base: number): Promise<Segment> {
    const existing = this.openSegment(base);
    if (existing !== undefined) return existing;
    const last = this.segments[this.segments.length - 1];
    assert(last === undefined || base === last.baseOffset + this.segmentBytes, `new segment ${base} does not follow ${last?.baseOffset}`);
    const segment = await Segment.open(this.dir, base, true, this.cache);
    this.segments.push(segment);
    await this.pinTail();
    await syncDirectory(this.dir);
    return segment;
  }

  /** Writes chunks in order; consecutive chunks of one segment go out in one writev. */
  async writeChunks(chunks: readonly WriteChunk[]): Promise<void> {
    for (const run of this.segmentRuns(chunks)) {
      const segment = await this.segmentForWrite(run.base);
      await segment.write(run.buffers, run.filePosition);
    }
  }

  /**
   * writeChunks done synchronously (Segment.writeNow), when every segment it writes to is open
   * already; false (nothing written) when one would have to be created, which takes the async path.
   */
  writeChunksNow(chunks: readonly WriteChunk[]): boolean {
    const runs = this.segmentRuns(chunks);
    const segments = runs.map((run) => this.openSegment(run.base));
    if (segments.some((segment) => segment === undefined || !segment.isOpenNow)) return false;
    runs.forEach((run, i) => segments[i]!.writeNow(run.buffers, run.filePosition));
    return true;
  }

  /** Chunks grouped into runs of consecutive bytes within one segment (one writev each). */
  private segmentRuns(chunks: readonly WriteChunk[]): Array<{ base: number; filePosition: number; buffers: Buffer[] }> {
    const runs: Array<{ base: number; filePosition: number; buffers: Buffer[] }> = [];
    let i = 0;
    while (i < chunks.length) {
      const first = chunks[i]!;
      const base = segmentBaseOf(first.physicalOffset, this.segmentBytes);
      const buffers: Buffer[] = [first.bytes];
      let end = first.physicalOffset + first.bytes.length;
      i++;
      while (i < chunks.length && chunks[i]!.physicalOffset === end && segmentBaseOf(end, this.segmentBytes) === base && end % this.segmentBytes !== 0) {
        buffers.push(chunks[i]!.bytes);
        end += chunks[i]!.bytes.length;
        i++;
      }
      runs.push({ base, filePosition: filePositionInSegment(first.physicalOffset, this.segmentBytes), buffers });
    }
    return runs;
  }

  /**
   * Reads [physicalOffset, physicalOffset + length) within one segment into target. Returns the
   * bytes read, 0 when that segment is gone (retention).
   */
  async readInto(physicalOffset: number, length: number, target: Buffer, targetPosition: number): Promise<number> {
    const segment = this.segmentAt(physicalOffset);
    if (segment === undefined) return 0;
    try {
      const position = filePositionInSegment(physicalOffset, this.segmentBytes);
      if (this.endFromFiles - physicalOffset <= HOT_TAIL_BYTES) {
        const done = segment.readNow(position, length, target, targetPosition);
        if (done !== undefined) return done;
      }
      return await segment.read(position, length, target, targetPosition);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBADF' || (err as NodeJS.ErrnoException).code === 'ERR_INVALID_STATE') return 0;
      throw err;
    }
  }

  /** Raw bytes from physicalOffset up to `endPhysicalOffset`, at most maxBytes, possibly across segments. */
  async readRange(physicalOffset: number, maxBytes: number, endPhysicalOffset: number): Promise<Buffer> {
    const length = Math.max(0, Math.min(maxBytes, endPhysicalOffset - physicalOffset));
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const offset = physicalOffset + done;
      const inSegment = Math.min(length - done, this.segmentBytes - filePositionInSegment(offset, this.segmentBytes));
      const got = await this.readInto(offset, inSegment, out, done);
      done += got;
      if (got < inSegment) break;
    }
    return done === length ? out : out.subarray(0, done);
  }

  /** fdatasync every segment holding bytes of [from, to). */
  async datasync(from: number, to: number): Promise<void> {
    for (let base = segmentBaseOf(from, this.segmentBytes); base < to; base += this.segmentBytes) {
      await this.segmentAt(base)?.datasync();
    }
  }

  /** Cuts the log at physicalOffset: later segments are deleted, the one holding it is shortened. */
  async truncate(physicalOffset: number): Promise<void> {
    for (let last = this.segments.at(-1); last !== undefined && last.baseOffset > physicalOffset; last = this.segments.at(-1)) {
      this.segments.pop();
      if (last === this.pinnedTail) this.pinnedTail = undefined;
      await last.remove();
    }
    await this.pinTail();
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && last.endOffset > physicalOffset) await last.truncate(physicalOffset - last.baseOffset);
    if (this.segments.length === 0) this.emptyStart = physicalOffset;
  }

  /** Deletes the oldest segment (retention). */
  async deleteOldest(): Promise<Segment | undefined> {
    const first = this.segments.shift();
    if (first === this.pinnedTail) this.pinnedTail = undefined;
    if (first !== undefined) await first.remove();
    await this.pinTail();
    return first;
  }

  async close(): Promise<void> {
    this.pinnedTail = undefined;
    for (const segment of this.segments) await segment.close();
  }
}

/** Makes a created or deleted file name durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
