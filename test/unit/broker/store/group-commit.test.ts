import { describe, expect, it } from 'vitest';
import type { WriteChunk } from '../../../../broker/store/batch-encoder.js';
import { GroupCommit, type CommitTicket } from '../../../../broker/store/group-commit.js';

const limits = { iovecsMax: 1024, bytesMax: 1 << 20 };
let position = 0;
function chunk(bytes: number): WriteChunk {
  const c = { physicalOffset: position, bytes: Buffer.alloc(bytes) };
  position += bytes;
  return c;
}
function ticket(name: string, end: number, records = 1): CommitTicket & { name: string } {
  return { name, endPhysicalOffset: end, records };
}

describe('group commit (pure core)', () => {
  it('merges every append queued while a write runs into the next single write', () => {
    position = 0;
    const core = new GroupCommit<ReturnType<typeof ticket>>('async', 0, limits);
    core.enqueue([chunk(10)], ticket('a', 10));
    const first = core.takeWrite()!;
    expect(first.tickets.map((t) => t.name)).toEqual(['a']);
    core.enqueue([chunk(10)], ticket('b', 20));
    core.enqueue([chunk(10)], ticket('c', 30));
    expect(core.takeWrite()).toBeUndefined(); // one write at a time
    expect(core.writeDone(first).map((t) => t.name)).toEqual(['a']);
    const second = core.takeWrite()!;
    expect(second.tickets.map((t) => t.name)).toEqual(['b', 'c']);
    expect(second.chunks).toHaveLength(2);
    expect(second.bytes).toBe(20);
    expect(core.writeDone(second).map((t) => t.name)).toEqual(['b', 'c']);
    expect(core.writtenPhysicalOffset).toBe(30);
    expect(core.idle).toBe(true);
  });

  it('in sync mode completes appends only when an fsync covering them finishes', () => {
    position = 0;
    const core = new GroupCommit<ReturnType<typeof ticket>>('sync', 0, limits);
    core.enqueue([chunk(10)], ticket('a', 10, 2));
    const write = core.takeWrite()!;
    expect(core.takeSync()).toBeUndefined(); // the fsync waits for the write in flight, to cover it
    expect(core.writeDone(write)).toEqual([]);
    expect(core.takeSync()).toBe(10);
    // b is written while the fsync runs; it is not covered by it.
    core.enqueue([chunk(5)], ticket('b', 15, 3));
    const w2 = core.takeWrite()!;
    expect(core.writeDone(w2)).toEqual([]);
    expect(core.takeSync()).toBeUndefined(); // one fsync at a time
    const done = core.syncDone(10);
    expect(done.tickets.map((t) => t.name)).toEqual(['a']);
    expect(done.records).toBe(2);
    expect(core.flushedPhysicalOffset).toBe(10);
    expect(core.takeSync()).toBe(15);
    expect(core.syncDone(15).tickets.map((t) => t.name)).toEqual(['b']);
    expect(core.takeSync()).toBeUndefined();
  });

  it('splits a write at the iovec and byte limits but always takes at least one append', () => {
    position = 0;
    const core = new GroupCommit<ReturnType<typeof ticket>>('async', 0, { iovecsMax: 2, bytesMax: 100 });
    core.enqueue([chunk(200)], ticket('huge', 200));
    core.enqueue([chunk(10)], ticket('x', 210));
    core.enqueue([chunk(10)], ticket('y', 220));
    core.enqueue([chunk(10)], ticket('z', 230));
    const w1 = core.takeWrite()!;
    expect(w1.tickets.map((t) => t.name)).toEqual(['huge']);
    core.writeDone(w1);
    const w2 = core.takeWrite()!;
    expect(w2.tickets.map((t) => t.name)).toEqual(['x', 'y']);
    core.writeDone(w2);
    expect(core.takeWrite()!.tickets.map((t) => t.name)).toEqual(['z']);
  });

  it('asks for an fsync in async mode only when requested and bytes are unflushed', () => {
    position = 0;
    const core = new GroupCommit<ReturnType<typeof ticket>>('async', 0, limits);
    expect(core.takeSync()).toBeUndefined();
    core.enqueue([chunk(8)], ticket('a', 8));
    core.writeDone(core.takeWrite()!);
    expect(core.takeSync()).toBeUndefined();
    core.requestSync();
    expect(core.takeSync()).toBe(8);
    core.syncDone(8);
    core.requestSync();
    expect(core.takeSync()).toBeUndefined();
  });

  it('fails every queued and syncing append at once', () => {
    position = 0;
    const core = new GroupCommit<ReturnType<typeof ticket>>('sync', 0, limits);
    core.enqueue([chunk(8)], ticket('a', 8));
    core.writeDone(core.takeWrite()!);
    core.enqueue([chunk(8)], ticket('b', 16));
    expect(core.failAll().map((t) => t.name).sort()).toEqual(['a', 'b']);
    expect(core.idle).toBe(true);
  });
});
