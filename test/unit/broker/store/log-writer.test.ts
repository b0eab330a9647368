// The commit-log writer's choice of where a write runs: small writes on the event loop
// (CommitLog.writeChunksNow), large ones and ones that must create a segment on libuv's pool.
// Either way the bytes land at their offsets and every append completes once, after the call that
// enqueued it has returned, in log order.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommitLog } from '../../../../broker/store/commit-log.js';
import { FileHandleCache } from '../../../../broker/store/file-handle-cache.js';
import { offsetFileName } from '../../../../broker/store/layout.js';
import { LogWriter, WRITE_NOW_BYTES_MAX, type WriterTicket } from '../../../../broker/store/log-writer.js';
import { Segment } from '../../../../broker/store/segment.js';
import { silentLogger } from '../../../../common/logging.js';

const SEGMENT_BYTES = 1024 * 1024;

describe('log writer', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function open(mode: 'async' | 'sync'): Promise<{ dir: string; log: CommitLog; writer: LogWriter; flushed: number[] }> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-log-writer-'));
    dirs.push(dir);
    const log = await CommitLog.open(dir, SEGMENT_BYTES, new FileHandleCache(64));
    const flushed: number[] = [];
    const writer = new LogWriter(log, mode, 0, (offset) => flushed.push(offset), silentLogger());
    return { dir, log, writer, flushed };
  }

  /** Appends `bytes` at `at` and resolves when its ticket is done; `order` records completions. */
  function append(writer: LogWriter, at: number, bytes: Buffer, order: number[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const ticket: WriterTicket = {
        endPhysicalOffset: at + bytes.length,
        records: 1,
        done: (error) => {
          order.push(at);
          if (error) reject(error);
          else resolve();
        },
      };
      writer.enqueue([{ physicalOffset: at, bytes }], ticket);
    });
  }

  it('writes small appends on the loop, large ones and a new segment on the pool, all bytes in place', async () => {
    const { dir, log, writer } = await open('async');
    const onLoop = vi.spyOn(Segment.prototype, 'writeNow');
    const pooled = vi.spyOn(Segment.prototype, 'write');
    const order: number[] = [];
    const small = randomBytes(1100);
    // The first append creates the segment: the pool path.
    await append(writer, 0, small, order);
    expect(pooled).toHaveBeenCalledTimes(1);
    expect(onLoop).not.toHaveBeenCalled();
    // Small appends to the open segment: on the loop.
    let at = small.length;
    for (let i = 0; i < 5; i++) {
      await append(writer, at, small, order);
      at += small.length;
    }
    expect(onLoop).toHaveBeenCalledTimes(5);
    expect(pooled).toHaveBeenCalledTimes(1);
    // Larger than WRITE_NOW_BYTES_MAX: the pool.
    const large = randomBytes(WRITE_NOW_BYTES_MAX + 1);
    await append(writer, at, large, order);
    at += large.length;
    expect(pooled).toHaveBeenCalledTimes(2);
    expect(writer.stats()).toMatchObject({ writeCount: 7, writesOnLoop: 5, bytesWritten: at });
    await writer.whenIdle();
    const file = await readFile(path.join(dir, offsetFileName(0)));
    expect(file.length).toBe(at);
    expect(file.subarray(0, small.length)).toEqual(small);
    expect(file.subarray(at - large.length)).toEqual(large);
    await log.close();
  });

  it('completes a loop write only after the enqueuing call returned, once, in log order', async () => {
    const { log, writer } = await open('async');
    const order: number[] = [];
    await append(writer, 0, Buffer.alloc(10, 1), order);
    order.length = 0;
    const pending = [append(writer, 10, Buffer.alloc(10, 2), order), append(writer, 20, Buffer.alloc(10, 3), order)];
    expect(order).toEqual([]); // nothing completes inside enqueue
    await Promise.all(pending);
    expect(order).toEqual([10, 20]);
    expect(writer.stats().writesOnLoop).toBeGreaterThanOrEqual(1);
    await log.close();
  });

  it('under sync flush still answers a loop write only once an fsync covers it', async () => {
    const { log, writer, flushed } = await open('sync');
    const order: number[] = [];
    await append(writer, 0, Buffer.alloc(100, 1), order);
    await append(writer, 100, Buffer.alloc(100, 2), order);
    expect(writer.stats().writesOnLoop).toBe(1);
    expect(writer.flushedPhysicalOffset).toBe(200);
    expect(flushed[flushed.length - 1]).toBe(200);
    await log.close();
  });

  it('under sync flush tells the flushed-offset listener first and completes the fsynced appends in a later turn', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-log-writer-'));
    dirs.push(dir);
    const log = await CommitLog.open(dir, SEGMENT_BYTES, new FileHandleCache(64));
    const events: string[] = [];
    // What a slave's report or a master's replication read does on the listener: work for the
    // same turn (a microtask) and for its check phase (an immediate queued before the appends').
    const writer = new LogWriter(log, 'sync', 0, (offset) => {
      events.push(`flushed ${offset}`);
      queueMicrotask(() => events.push('listener microtask'));
      setImmediate(() => events.push('listener immediate'));
    }, silentLogger());
    const order: number[] = [];
    await append(writer, 0, Buffer.alloc(100, 1), order); // creates the segment
    events.length = 0;
    const done = append(writer, 100, Buffer.alloc(100, 2), order).then(() => events.push('append done'));
    await writer.whenIdle(); // only once the fsynced appends were completed too
    expect(events).toEqual(['flushed 200', 'listener microtask', 'listener immediate', 'append done']);
    await done;
    expect(writer.flushedPhysicalOffset).toBe(200);
    await log.close();
  });

  it('fails the append, and every later one, when a loop write fails', async () => {
    const { log, writer } = await open('async');
    const order: number[] = [];
    await append(writer, 0, Buffer.alloc(10, 1), order);
    vi.spyOn(Segment.prototype, 'writeNow').mockImplementation(() => {
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    });
    await expect(append(writer, 10, Buffer.alloc(10, 2), order)).rejects.toThrow(/disk is full/);
    expect(() => writer.enqueue([{ physicalOffset: 20, bytes: Buffer.alloc(1) }], { endPhysicalOffset: 21, records: 1, done: () => undefined })).toThrow(/disk is full/);
    await log.close();
  });
});
