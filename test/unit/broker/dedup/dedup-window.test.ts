import { describe, expect, it } from 'vitest';
import { DedupWindow, SINGLE_RUN_GAP_MAX, type StoredResult } from '../../../../broker/dedup/dedup-window.js';
import { generatorId } from '../../../helpers/generator-id.js';

function result(messageId: string, storeTimestampMs: number, queueOffset = 0): StoredResult {
  return { messageId, topic: 't', queueId: 1, queueOffset, physicalOffset: queueOffset * 100, storeTimestampMs };
}

describe('the dedup window', () => {
  it('returns the original result of an id stored within the window', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0 });
    window.put(result('m1', 100, 7), 100);
    expect(window.get('m1', 500)).toEqual(result('m1', 100, 7));
    expect(window.get('m1', 1_100)).toEqual(result('m1', 100, 7));
    expect(window.get('m2', 500)).toBeUndefined();
  });

  it('forgets an id once its store timestamp is older than the window', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0 });
    window.put(result('m1', 100), 100);
    expect(window.get('m1', 1_101)).toBeUndefined();
    expect(window.size).toBe(0);
  });

  it('drops expired entries when new ones are put', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0 });
    window.put(result('a', 0), 0);
    window.put(result('b', 500), 500);
    window.put(result('c', 1_200), 1_200);
    expect(window.size).toBe(2);
    expect(window.get('b', 1_200)).toBeDefined();
  });

  it('keeps at most entriesMax ids, evicting the oldest', () => {
    const window = new DedupWindow({ windowMs: 60_000, startedAtMs: 0, entriesMax: 3 });
    for (let i = 0; i < 5; i++) window.put(result(`m${i}`, 10 + i), 10 + i);
    expect(window.size).toBe(3);
    expect(window.get('m0', 20)).toBeUndefined();
    expect(window.get('m1', 20)).toBeUndefined();
    expect(window.get('m4', 20)).toBeDefined();
  });

  it('asks for a store lookup until it has seen a whole window since the process started', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 5_000 });
    expect(window.needsStoreLookup(5_000)).toBe(true);
    expect(window.needsStoreLookup(5_999)).toBe(true);
    expect(window.needsStoreLookup(6_000)).toBe(false);
  });

  it('asks the store about an evicted id only while it could still be inside the window', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, entriesMax: 1 });
    expect(window.needsStoreLookup(2_000)).toBe(false);
    window.put(result('a', 2_000), 2_000);
    window.put(result('b', 2_001), 2_001);
    expect(window.size).toBe(1);
    expect(window.needsStoreLookup(2_500)).toBe(true);
    expect(window.needsStoreLookup(2_500, 'a')).toBe(true);
    expect(window.needsStoreLookup(3_001, 'a')).toBe(false);
    expect(window.needsStoreLookup(3_001)).toBe(false);
  });

  it('does not ask the store about a new id when nothing evicted could match it', () => {
    const window = new DedupWindow({ windowMs: 60_000, startedAtMs: 0, newestStoredBeforeStartMs: null, entriesMax: 10 });
    for (let i = 0; i < 1_000; i++) window.put(result(`old-${i}`, 1_000 + i), 1_000 + i);
    for (let i = 0; i < 990; i++) expect(window.needsStoreLookup(5_000, `old-${i}`)).toBe(true);
    let lookups = 0;
    for (let i = 0; i < 1_000; i++) if (window.needsStoreLookup(5_000, `new-${i}`)) lookups++;
    expect(lookups).toBe(0);
  });

  it('asks about every miss only while the newest record from before the start is inside the window', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 10_000, newestStoredBeforeStartMs: 9_500 });
    expect(window.needsStoreLookup(10_000, 'x')).toBe(true);
    expect(window.needsStoreLookup(10_500, 'x')).toBe(true);
    expect(window.needsStoreLookup(10_501, 'x')).toBe(false);
  });

  it('never asks the store after starting on an empty store', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 10_000, newestStoredBeforeStartMs: null });
    expect(window.needsStoreLookup(10_000, 'x')).toBe(false);
    expect(window.needsStoreLookup(10_000)).toBe(false);
  });

  it('looks at each entry a bounded number of times when pruning, however full it is', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, entriesMax: 5_000 });
    const puts = 50_000;
    for (let i = 0; i < puts; i++) window.put(result(`m${i}`, i / 10), i / 10);
    expect(window.size).toBeLessThanOrEqual(5_000);
    expect(window.pruneVisits).toBeLessThanOrEqual(2 * puts);
  });

  it('answers with the newest result of an id put twice and expires it by that one', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0 });
    window.put(result('a', 0, 1), 0);
    window.put(result('b', 100), 100);
    window.put(result('a', 500, 2), 500);
    window.put(result('c', 1_200), 1_200);
    expect(window.get('a', 1_200)).toEqual(result('a', 500, 2));
    expect(window.get('b', 1_200)).toBeUndefined();
  });

  it('is off with a zero window: remembers nothing and never asks the store', () => {
    const window = new DedupWindow({ windowMs: 0, startedAtMs: 0 });
    window.put(result('a', 10), 10);
    expect(window.get('a', 10)).toBeUndefined();
    expect(window.needsStoreLookup(0)).toBe(false);
  });

  it('tells whether a store timestamp is within the window', () => {
    const window = new DedupWindow({ windowMs: 100, startedAtMs: 0 });
    expect(window.isWithinWindow(900, 1_000)).toBe(true);
    expect(window.isWithinWindow(899, 1_000)).toBe(false);
  });
});

describe('forgetting a deleted topic', () => {
  it('drops the ids of that topic only', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0 });
    window.put(result('a', 10), 10);
    window.put({ ...result('b', 10), topic: 'other' }, 10);
    window.forgetTopic('t');
    expect(window.get('a', 20)).toBeUndefined();
    expect(window.get('b', 20)).toBeDefined();
  });
});

describe('runs of generator ids in the window', () => {
  it('sends an id inside a run to the store, and neither the ids next to it nor other ids', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null });
    expect(window.needsStoreLookup(100)).toBe(false);
    window.putRun(7, 100, 227, 't', 100, 100, 100);
    expect(window.needsStoreLookup(100)).toBe(true);
    expect(window.needsStoreLookup(500, generatorId(7, 150))).toBe(true);
    expect(window.needsStoreLookup(500, generatorId(7, 228))).toBe(false);
    expect(window.needsStoreLookup(500, generatorId(8, 150))).toBe(false);
    expect(window.needsStoreLookup(500, 'user-id')).toBe(false);
    expect(window.runMayRepeat(7, 200, 300, 500)).toBe(true);
    expect(window.runMayRepeat(7, 228, 355, 500)).toBe(false);
    expect(window.needsStoreLookup(1_101, generatorId(7, 150))).toBe(false);
    expect(window.runMayRepeat(7, 200, 300, 1_101)).toBe(false);
  });

  it('finds a run\'s id among the ids remembered one by one, in memory and after eviction', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null, entriesMax: 1 });
    expect(window.mayHoldGeneratorId(generatorId(1, 1), 10)).toBe(false);
    window.put(result(generatorId(1, 1), 10), 10);
    expect(window.mayHoldGeneratorId(generatorId(1, 1), 10)).toBe(true);
    window.put(result('user', 11), 11); // evicts the generator id into the filter
    expect(window.size).toBe(1);
    expect(window.mayHoldGeneratorId(generatorId(1, 1), 20)).toBe(true);
    expect(window.mayHoldGeneratorId(generatorId(1, 1), 1_011)).toBe(false);
  });

  it('sends every id to the store while runs it had to drop are inside the window', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null, runsMax: 2 });
    for (let instance = 0; instance < 4; instance++) window.putRun(instance, 0, 9, 't', 100 + instance, 100 + instance, 100 + instance);
    expect(window.runCount).toBeLessThanOrEqual(2);
    expect(window.runMayRepeat(50, 0, 9, 500)).toBe(true);
    expect(window.needsStoreLookup(500, 'user-id')).toBe(true);
    expect(window.runMayRepeat(50, 0, 9, 1_200)).toBe(false);
  });

  it('forgets the runs of a deleted topic', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null });
    window.putRun(7, 0, 9, 't', 10, 10, 10);
    window.putRun(8, 0, 9, 'other', 10, 10, 10);
    window.forgetTopic('t');
    expect(window.runMayRepeat(7, 0, 9, 20)).toBe(false);
    expect(window.runMayRepeat(8, 0, 9, 20)).toBe(true);
  });
});

describe('lone generator ids joining their producer\'s run', () => {
  const lone = (id: string, at: number, topic = 't'): StoredResult => ({ ...result(id, at), topic });

  it('keeps one producer\'s consecutive lone ids as one run, not an entry each, and still finds every one', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null });
    for (let c = 1; c <= 1_000; c++) window.putSingle(lone(generatorId(5, c), 100), 100);
    // The first id takes an entry (nothing to join yet); the rest join the run the second one started.
    expect(window.size).toBe(1);
    expect(window.runCount).toBe(1);
    for (const c of [1, 2, 500, 1_000]) expect(window.needsStoreLookup(200, generatorId(5, c))).toBe(true);
    expect(window.needsStoreLookup(200, generatorId(5, 1_001))).toBe(false);
    expect(window.needsStoreLookup(200, generatorId(6, 500))).toBe(false);
    expect(window.needsStoreLookup(1_101, generatorId(5, 500))).toBe(false);
  });

  it('joins over a gap of at most SINGLE_RUN_GAP_MAX counters (several broker groups), not over a wider one', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null });
    for (let c = 10; c <= 100; c += 2) window.putSingle(lone(generatorId(5, c), 100), 100);
    expect([window.size, window.runCount]).toEqual([1, 1]);
    const far = 100 + SINGLE_RUN_GAP_MAX + 1;
    window.putSingle(lone(generatorId(5, far), 100), 100);
    expect([window.size, window.runCount]).toEqual([2, 1]);
    expect(window.needsStoreLookup(200, generatorId(5, 101))).toBe(false);
    expect(window.get(generatorId(5, far), 200)).toBeDefined();
  });

  it('keeps ids of another topic, other ids, and a counter that goes back one by one', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null });
    window.putSingle(lone(generatorId(5, 1), 100), 100);
    window.putSingle(lone(generatorId(5, 2), 100, 'other'), 100);
    window.putSingle(lone('user-id', 100), 100);
    window.putSingle(lone('0'.repeat(32), 100), 100);
    expect([window.size, window.runCount]).toEqual([4, 0]);
    window.putSingle(lone(generatorId(5, 3), 100, 'other'), 100); // follows 2 in 'other': a run 2..3
    expect([window.size, window.runCount]).toEqual([4, 1]);
    const back = generatorId(5, 1, 0x18c_0000_0001); // counter 1 again (another time part): behind the run
    window.putSingle(lone(back, 100, 'other'), 100);
    expect([window.size, window.runCount]).toEqual([5, 1]);
    expect(window.get(back, 200)?.topic).toBe('other');
  });

  it('forgets the lone ids of a deleted topic, so the next one does not join', () => {
    const window = new DedupWindow({ windowMs: 1_000, startedAtMs: 0, newestStoredBeforeStartMs: null });
    window.putSingle(lone(generatorId(5, 1), 100), 100);
    window.forgetTopic('t');
    window.putSingle(lone(generatorId(5, 2), 100), 100);
    expect([window.size, window.runCount]).toEqual([1, 0]);
  });

  it('remembers nothing with a zero window', () => {
    const window = new DedupWindow({ windowMs: 0, startedAtMs: 0 });
    for (let c = 1; c <= 3; c++) window.putSingle(lone(generatorId(5, c), 100), 100);
    expect([window.size, window.runCount]).toEqual([0, 0]);
  });
});
