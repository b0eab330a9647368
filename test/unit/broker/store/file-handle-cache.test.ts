import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDroppedError, FileHandleCache, isOutOfDescriptors } from '../../../../broker/store/file-handle-cache.js';
import { ErrorCode } from '../../../../common/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-handles-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** The prototype of fs/promises FileHandle (not exported by Node), to count its datasync calls. */
async function fileHandlePrototype(): Promise<{ datasync: () => Promise<void> }> {
  const handle = await open(path.join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
  await handle.close();
  return proto;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('FileHandleCache', () => {
  it('fdatasyncs a written file before closing it for another, and not a file only read', async () => {
    const datasync = vi.spyOn(await fileHandlePrototype(), 'datasync');
    const cache = new FileHandleCache(1);
    const written = cache.file(path.join(dir, 'written'), { create: true });
    const read = cache.file(path.join(dir, 'read'), { create: true });
    const third = cache.file(path.join(dir, 'third'), { create: true });
    await cache.use(written, (h) => h.write(Buffer.from('entries'), 0, 7, 0), true);
    expect(datasync).not.toHaveBeenCalled();
    await cache.use(read, (h) => h.stat());
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(written.dirty).toBe(false);
    await cache.datasync(written); // synced at its close: nothing left to do
    expect(datasync).toHaveBeenCalledTimes(1);
    await cache.use(third, (h) => h.stat());
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(await readFile(written.path, 'utf8')).toBe('entries');
    expect(cache.stats()).toMatchObject({ budget: 1, open: 1, evictions: 2 });
  });

  it('never closes a file under a use in flight: a second open waits for it', async () => {
    const cache = new FileHandleCache(1);
    const a = cache.file(path.join(dir, 'a'), { create: true });
    const b = cache.file(path.join(dir, 'b'), { create: true });
    const inA = deferred();
    const order: string[] = [];
    const useA = cache.use(a, async (h) => {
      await inA.promise;
      await h.write(Buffer.from('still open'), 0, 10, 0); // would fail with EBADF if closed under it
      order.push('a done');
    });
    await vi.waitFor(() => expect(a.handle).toBeDefined());
    const useB = cache.use(b, async () => {
      order.push('b runs');
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    expect(cache.stats().waits).toBe(1);
    inA.resolve();
    await Promise.all([useA, useB]);
    expect(order).toEqual(['a done', 'b runs']);
    expect(await readFile(a.path, 'utf8')).toBe('still open');
  });

  it('keeps a pinned file open while others come and go, and fails uses of a dropped file', async () => {
    const cache = new FileHandleCache(2);
    const tail = cache.file(path.join(dir, 'tail'), { create: true });
    await cache.pin(tail);
    const handle = cache.openNow(tail);
    for (let i = 0; i < 5; i++) await cache.use(cache.file(path.join(dir, `f${i}`), { create: true }), (h) => h.stat());
    expect(cache.openNow(tail)).toBe(handle);
    cache.unpin(tail);
    await cache.drop(tail);
    expect(cache.openNow(tail)).toBeUndefined();
    await expect(cache.use(tail, (h) => h.stat())).rejects.toBeInstanceOf(FileDroppedError);
  });

  it('does not create a file again once it was opened (a deleted file stays deleted)', async () => {
    const cache = new FileHandleCache(1);
    const file = cache.file(path.join(dir, 'once'), { create: true });
    await cache.use(file, (h) => h.stat());
    await cache.use(cache.file(path.join(dir, 'other'), { create: true }), (h) => h.stat());
    await rm(file.path);
    await expect(cache.use(file, (h) => h.stat())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('FileHandleCache when the process runs out of descriptors', () => {
  /** An open() of a process with `free` descriptors left (sockets took the rest): EMFILE beyond. */
  function scarceOpen(free: { left: number }): (p: string, flags: number, mode: number) => Promise<FileHandle> {
    return async (p, flags, mode) => {
      if (free.left === 0) throw Object.assign(new Error(`EMFILE: too many open files, open '${p}'`), { code: 'EMFILE' });
      const handle = await open(p, flags, mode);
      free.left--;
      const close = handle.close.bind(handle);
      handle.close = async () => {
        free.left++;
        await close();
      };
      return handle;
    };
  }

  it('closes an idle store file and retries, and fails with SERVICE_UNAVAILABLE only when none is idle, then recovers', async () => {
    const free = { left: 2 };
    const cache = new FileHandleCache(8, scarceOpen(free));
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => cache.file(path.join(dir, name), { create: true })) as [ReturnType<typeof cache.file>, ReturnType<typeof cache.file>, ReturnType<typeof cache.file>, ReturnType<typeof cache.file>];
    await cache.use(a, (h) => h.stat());
    await cache.use(b, (h) => h.stat());
    await cache.use(c, (h) => h.stat()); // EMFILE: a (idle, least recent) is closed and the open retried
    expect(cache.openNow(a)).toBeUndefined();
    expect(cache.openNow(c)).toBeDefined();

    await cache.pin(b);
    await cache.pin(c);
    const failed = await cache.use(d, (h) => h.stat()).catch((err: unknown) => err);
    expect(isOutOfDescriptors(failed)).toBe(true);
    expect(failed).toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE, message: expect.stringContaining('no file descriptor left') });
    expect(cache.stats().open).toBe(2);

    cache.unpin(c);
    await cache.use(d, (h) => h.stat()); // an idle file again: it gives way
    expect(cache.openNow(d)).toBeDefined();
    expect(cache.openNow(b)).toBeDefined();
  });
});
