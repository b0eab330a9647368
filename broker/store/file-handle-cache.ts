// The store's open files as a bounded resource (docs/storage.md "Open files"): commit-log segments
// and consume-queue files are opened through this cache, which holds at most `budget` descriptors.
// A file is opened on first use and kept open; when the budget is reached the least recently used
// file nobody is using is closed (fdatasync'd first if it was written since its last sync) and
// reopened on its next use. A user pins the file for the length of its I/O (`use`), so a handle
// is never closed under a read or write in flight; long-lived users (the commit log's tail
// segment) pin it with `pin`. When every open file is pinned, a new open waits for an unpin.
// handle-lru.ts holds the bookkeeping; this file only opens, syncs and closes.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ConveyorError, ErrorCode, type ErrorFields } from '../../common/errors.js';
import { HandleLru } from './handle-lru.js';

/** Opens retried after closing an idle file, when open() itself fails with EMFILE/ENFILE (sockets took the rest). */
const OPEN_RETRIES_ON_EMFILE_MAX = 8;

/** A file the cache may open: its path and how to open it. Opening does not happen until `use`. */
export class CachedFile {
  handle: FileHandle | undefined;
  /** While an open is in flight. */
  opening: Promise<FileHandle> | undefined;
  /** While its close (and the fdatasync before it) is in flight. */
  closing: Promise<void> | undefined;
  /** Written since its last fdatasync. */
  dirty = false;
  /** A sync before an eviction failed: reported by the next datasync. */
  syncError: unknown;
  /** Dropped (deleted or its store closed): uses fail, the last unpin closes. */
  dropped = false;

  /** Open with O_CREAT: true until the first open succeeds, so a deleted file is never created again. */
  constructor(readonly path: string, public create: boolean) {}
}

/** open() found no descriptor left, even after closing idle store files: SERVICE_UNAVAILABLE, retried later. */
export class OutOfDescriptorsError extends ConveyorError {
  constructor(message: string, fields: ErrorFields, options: { cause: unknown }) {
    super(ErrorCode.SERVICE_UNAVAILABLE, message, fields, options);
  }
}

/** A use of a dropped file: the caller treats it as gone, as a read of a deleted file. */
export class FileDroppedError extends Error {
  readonly code = 'EBADF';
  constructor(readonly path: string) {
    super(`file ${path} was dropped from the open-file cache`);
  }
}

export interface FileHandleCacheStats {
  budget: number;
  open: number;
  opens: number;
  evictions: number;
  waits: number;
}

export class FileHandleCache {
  private readonly lru: HandleLru<CachedFile>;
  private readonly waiters: Array<() => void> = [];
  private opens = 0;
  private evictions = 0;
  private waits = 0;

  constructor(
    readonly budget: number,
    /** fs/promises open; tests inject one that fails like a process out of descriptors. */
    private readonly openPath: (path: string, flags: number, mode: number) => Promise<FileHandle> = open,
  ) {
    this.lru = new HandleLru(budget);
  }

  file(path: string, options: { create: boolean }): CachedFile {
    return new CachedFile(path, options.create);
  }

  /** Runs fn with the file's handle open and pinned; `write` marks the file dirty. */
  async use<T>(file: CachedFile, fn: (handle: FileHandle) => Promise<T>, write = false): Promise<T> {
    const handle = await this.acquire(file);
    try {
      if (write) file.dirty = true;
      return await fn(handle);
    } finally {
      // Again at the end: a datasync that started while this write ran may not cover all of it.
      if (write) file.dirty = true;
      this.release(file);
    }
  }

  /** The handle if the file is open right now (synchronous paths use its fd); no pin is taken. */
  openNow(file: CachedFile): FileHandle | undefined {
    return file.handle !== undefined && file.closing === undefined && !file.dropped ? file.handle : undefined;
  }

  /** Keeps the file open until unpin (the commit log's tail segment). */
  async pin(file: CachedFile): Promise<void> {
    await this.acquire(file);
  }

  unpin(file: CachedFile): void {
    this.release(file);
  }

  /** A synchronous write through openNow's handle happened. */
  markDirty(file: CachedFile): void {
    file.dirty = true;
  }

  /** fdatasyncs the file if written since its last sync; a file closed meanwhile was synced before its close. */
  async datasync(file: CachedFile): Promise<void> {
    if (file.closing !== undefined) await file.closing;
    if (file.syncError !== undefined) {
      const err = file.syncError;
      file.syncError = undefined;
      throw err;
    }
    if (!file.dirty || file.handle === undefined || file.dropped) return;
    await this.use(file, async (handle) => {
      file.dirty = false;
      try {
        await handle.datasync();
      } catch (err) {
        file.dirty = true;
        throw err;
      }
    });
  }

  /** Forgets the file (deleted, or its owner closes): uses fail from now on; its handle closes without a sync once unpinned. */
  async drop(file: CachedFile): Promise<void> {
    file.dropped = true;
    if (file.opening !== undefined) await file.opening.catch(() => undefined);
    if (file.closing !== undefined) await file.closing;
    if (this.lru.has(file) && this.lru.pins(file) === 0) await this.close(file, false);
  }

  stats(): FileHandleCacheStats {
    return { budget: this.budget, open: this.lru.size, opens: this.opens, evictions: this.evictions, waits: this.waits };
  }

  /**
   * Pins the file, opening it if needed. Waiters are woken one per event that frees a slot or makes
   * a file idle; a waiter that leaves without taking the slot (the file was opened by another
   * caller meanwhile, or it fails) passes its wake-up on, so none is lost.
   */
  private async acquire(file: CachedFile): Promise<FileHandle> {
    let woken = false;
    const passOn = (): void => {
      if (woken) this.wakeOne();
      woken = false;
    };
    try {
      for (;;) {
        if (file.dropped) throw new FileDroppedError(file.path);
        if (file.closing !== undefined) {
          await file.closing;
          continue;
        }
        if (file.opening !== undefined) {
          // A failed open removes the entry with every pin on it (below), so there is nothing to release then.
          this.lru.pin(file);
          passOn();
          return await file.opening;
        }
        if (file.handle !== undefined) {
          this.lru.pin(file);
          passOn();
          return file.handle;
        }
        if (this.lru.full) {
          const victim = this.lru.nextToClose();
          if (victim === undefined) {
            this.waits++;
            await new Promise<void>((resolve) => this.waiters.push(resolve));
            woken = true;
          } else {
            woken = false;
            this.evictions++;
            await this.close(victim, true);
          }
          continue;
        }
        woken = false;
        this.lru.addPinned(file);
        file.opening = this.openFile(file);
        try {
          file.handle = await file.opening;
          return file.handle;
        } catch (err) {
          this.lru.remove(file);
          this.wakeOne();
          throw err;
        } finally {
          file.opening = undefined;
        }
      }
    } catch (err) {
      passOn();
      throw err;
    }
  }

  private release(file: CachedFile): void {
    const left = this.lru.unpin(file);
    if (left > 0) return;
    if (file.dropped) void this.close(file, false);
    else this.wakeOne(); // an idle file a waiter may close
  }

  /** Closes an unpinned file: fdatasync first when asked and it is dirty (an error is kept for its next datasync). */
  private close(file: CachedFile, syncIfDirty: boolean): Promise<void> {
    if (file.closing !== undefined) return file.closing;
    const handle = file.handle;
    if (handle === undefined) return Promise.resolve();
    this.lru.beginClose(file);
    file.closing = (async () => {
      try {
        if (syncIfDirty && file.dirty) {
          file.dirty = false;
          await handle.datasync().catch((err: unknown) => {
            file.syncError ??= err;
          });
        }
        await handle.close().catch(() => undefined);
      } finally {
        file.handle = undefined;
        file.closing = undefined;
        this.lru.remove(file);
        this.wakeOne();
      }
    })();
    return file.closing;
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }

  /** open(); on EMFILE/ENFILE (descriptors taken by sockets) it closes idle files and retries, then fails with a clear error. */
  private async openFile(file: CachedFile): Promise<FileHandle> {
    const flags = file.create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await this.openPath(file.path, flags, 0o644);
        file.create = false;
        this.opens++;
        return handle;
      } catch (err) {
        if (!isOutOfDescriptors(err)) throw err;
        const victim = this.lru.nextToClose();
        if (victim === undefined || attempt >= OPEN_RETRIES_ON_EMFILE_MAX) {
          throw new OutOfDescriptorsError(
            `the process has no file descriptor left to open ${file.path} (${(err as NodeJS.ErrnoException).code}); the store holds ${this.lru.size} of its ${this.budget} handles, the rest are sockets and LevelDB: retry later or raise the open-files limit`,
            { path: file.path, storeHandles: this.lru.size, budget: this.budget },
            { cause: err },
          );
        }
        this.evictions++;
        await this.close(victim, true);
      }
    }
  }
}

/** EMFILE (this process) or ENFILE (the whole system), raw or as the cache's error for it: a condition that passes. */
export function isOutOfDescriptors(err: unknown): boolean {
  if (err instanceof OutOfDescriptorsError) return true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
