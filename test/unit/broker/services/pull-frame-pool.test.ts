// The pool of pull-answer buffers: a buffer is lent again only after it was given back, never
// twice at once, and sizes it is not for get buffers of their own.
import { describe, expect, it } from 'vitest';
import { PullFramePool } from '../../../../broker/services/pull-frame-pool.js';

describe('PullFramePool', () => {
  it('lends a given-back buffer again, and a new one while the first is out', () => {
    const pool = new PullFramePool(1024, 64, 4);
    const a = pool.take(500);
    expect(a.length).toBe(500);
    const b = pool.take(600);
    expect(b.buffer).not.toBe(a.buffer);
    pool.give(a);
    const c = pool.take(1024);
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(1024);
    expect(pool.stats).toEqual({ created: 2, reused: 1, idle: 0 });
  });

  it('ignores a second give of the same buffer, so it is never lent to two answers at once', () => {
    const pool = new PullFramePool(1024, 64, 4);
    const a = pool.take(100);
    pool.give(a);
    pool.give(a.subarray(10));
    const first = pool.take(100);
    const second = pool.take(100);
    expect(first.buffer).toBe(a.buffer);
    expect(second.buffer).not.toBe(a.buffer);
  });

  it('gives buffers of their own to sizes below the minimum or above the capacity, and ignores them when given back', () => {
    const pool = new PullFramePool(1024, 64, 4);
    const small = pool.take(63);
    const large = pool.take(1025);
    expect([small.length, large.length]).toEqual([63, 1025]);
    pool.give(small);
    pool.give(large);
    expect(pool.stats).toEqual({ created: 0, reused: 0, idle: 0 });
  });

  it('keeps at most idleMax free buffers', () => {
    const pool = new PullFramePool(1024, 64, 2);
    const lent = [pool.take(100), pool.take(100), pool.take(100)];
    for (const buffer of lent) pool.give(buffer);
    expect(pool.stats.idle).toBe(2);
  });
});
