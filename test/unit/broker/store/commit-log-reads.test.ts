import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommitLog, HOT_TAIL_BYTES } from '../../../../broker/store/commit-log.js';
import { FileHandleCache } from '../../../../broker/store/file-handle-cache.js';
import { Segment } from '../../../../broker/store/segment.js';

const SEGMENT_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

describe('commit-log reads', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('reads the hot tail synchronously and older bytes on the pool, returning the written bytes either way', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-commit-log-'));
    dirs.push(dir);
    const log = await CommitLog.open(dir, SEGMENT_BYTES, new FileHandleCache(64));
    const total = HOT_TAIL_BYTES + 4 * CHUNK_BYTES;
    const written = randomBytes(total);
    const chunks = [];
    for (let at = 0; at < total; at += CHUNK_BYTES) chunks.push({ physicalOffset: at, bytes: written.subarray(at, at + CHUNK_BYTES) });
    await log.writeChunks(chunks);
    const now = vi.spyOn(Segment.prototype, 'readNow');
    const pooled = vi.spyOn(Segment.prototype, 'read');

    const old = Buffer.alloc(4096);
    expect(await log.readInto(SEGMENT_BYTES - 100, 100, old, 0)).toBe(100);
    expect(old.subarray(0, 100)).toEqual(written.subarray(SEGMENT_BYTES - 100, SEGMENT_BYTES));
    expect(pooled).toHaveBeenCalledTimes(1);
    expect(now).not.toHaveBeenCalled();

    const tail = Buffer.alloc(4096);
    expect(await log.readInto(total - 4096, 4096, tail, 0)).toBe(4096);
    expect(tail).toEqual(written.subarray(total - 4096));
    expect(now).toHaveBeenCalledTimes(1);
    expect(pooled).toHaveBeenCalledTimes(1);

    // Past the end: a short read, not an error, on either path.
    expect(await log.readInto(total - 10, 100, tail, 0)).toBe(10);
    await log.close();
  });
});
