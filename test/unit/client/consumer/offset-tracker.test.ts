import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../../../client/consumer/offset-tracker.js';
import { ProcessQueue } from '../../../../client/consumer/process-queue.js';

describe('offset tracker', () => {
  it('never commits past an unfinished message, whatever order messages finish in', () => {
    const tracker = new OffsetTracker(10);
    tracker.received([10, 11, 12, 13], 14);
    expect(tracker.committable()).toBe(10);
    tracker.complete(12);
    tracker.complete(11);
    expect(tracker.committable()).toBe(10);
    tracker.complete(10);
    expect(tracker.committable()).toBe(13);
    tracker.complete(13);
    expect(tracker.committable()).toBe(14);
    expect(tracker.unfinishedCount).toBe(0);
  });

  it('moves past offsets the broker skipped (tag filtering) once nothing before them is unfinished', () => {
    const tracker = new OffsetTracker(0);
    tracker.received([3, 7], 20);
    expect(tracker.committable()).toBe(3);
    tracker.complete(7);
    expect(tracker.committable()).toBe(3);
    tracker.complete(3);
    expect(tracker.committable()).toBe(20);
    tracker.received([], 25);
    expect(tracker.committable()).toBe(25);
  });

  it('ignores completions it does not know, including those from before a reset', () => {
    const tracker = new OffsetTracker(0);
    tracker.received([0, 1], 2);
    expect(tracker.complete(5)).toBe(false);
    tracker.reset(100);
    expect(tracker.complete(0)).toBe(false);
    expect(tracker.committable()).toBe(100);
    expect(tracker.nextOffset).toBe(100);
    expect(tracker.unfinishedCount).toBe(0);
  });

  it('stays correct over many messages finishing in random order', () => {
    const tracker = new OffsetTracker(0);
    const count = 5_000;
    tracker.received([...Array(count).keys()], count);
    const order = [...Array(count).keys()].sort(() => Math.random() - 0.5);
    const done = new Set<number>();
    for (const offset of order) {
      tracker.complete(offset);
      done.add(offset);
      let expected = 0;
      while (done.has(expected)) expected++;
      expect(tracker.committable()).toBe(expected === count ? count : expected);
    }
  });

  it('refuses offsets that go backwards (a bug in the caller)', () => {
    const tracker = new OffsetTracker(5);
    expect(() => tracker.received([4], 6)).toThrow(/assertion/);
    expect(() => tracker.received([6, 6], 7)).toThrow(/assertion/);
  });
});

describe('process queue', () => {
  const queue = { topic: 't', brokerName: 'broker-a', queueId: 0 };

  it('pauses pulling while its cache is full and resumes when a message finishes', async () => {
    const pq = new ProcessQueue(queue, 0, 2);
    pq.received([0, 1], 2);
    expect(pq.isFull()).toBe(true);
    expect(pq.room()).toBe(0);
    let resumed = false;
    const waiting = pq.waitForSpace().then(() => (resumed = true));
    await Promise.resolve();
    expect(resumed).toBe(false);
    pq.complete(1);
    await waiting;
    expect(resumed).toBe(true);
    expect(pq.committable()).toBe(0);
  });

  it('wakes a waiting pull loop when dropped, and reports idle once handlers end', async () => {
    const pq = new ProcessQueue(queue, 0, 1);
    pq.received([0], 1);
    const waiting = pq.waitForSpace();
    pq.handlerStarted();
    let idle = false;
    const idleWait = pq.waitIdle().then(() => (idle = true));
    pq.drop();
    await waiting;
    expect(pq.dropped).toBe(true);
    expect(idle).toBe(false);
    pq.handlerEnded();
    await idleWait;
    expect(idle).toBe(true);
  });

  it('needs a commit until the committable offset was recorded', () => {
    const pq = new ProcessQueue(queue, 4, 10);
    expect(pq.needsCommit()).toBe(true);
    pq.lastCommitted = 4;
    expect(pq.needsCommit()).toBe(false);
    pq.received([4], 5);
    pq.complete(4);
    expect(pq.needsCommit()).toBe(true);
  });
});
