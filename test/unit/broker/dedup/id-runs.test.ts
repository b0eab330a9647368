import { describe, expect, it } from 'vitest';
import { IdRuns, runIndexOf, runsOverlap, splitIntoRuns, ID_RUNS_SWEEP_INTERVAL_MS, RUN_IDS_MIN } from '../../../../broker/dedup/id-runs.js';
import { generatorCounter, generatorInstance, MessageIdGenerator } from '../../../../common/message-id.js';
import { generatorId } from '../../../helpers/generator-id.js';

function ids(instance: number, first: number, count: number): Array<{ messageId: string }> {
  return Array.from({ length: count }, (_, i) => ({ messageId: generatorId(instance, first + i) }));
}

describe('generator id parsing', () => {
  it('reads the instance and counter of ids the client generates', () => {
    const generator = new MessageIdGenerator(() => 1_700_000_000_000, () => Buffer.from([0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0xff, 0xff, 0xff, 0xfe]));
    const first = generator.next();
    const second = generator.next();
    expect(generatorInstance(first)).toBe(0xabcdef012345);
    expect(generatorCounter(first)).toBe(0xffff_ffff);
    expect(generatorInstance(second)).toBe(0xabcdef012345);
    expect(generatorCounter(second)).toBe(0); // wrapped
  });

  it('refuses ids of another shape: length, upper case, non-hex instance or counter', () => {
    const good = generatorId(5, 7);
    expect(generatorInstance(good)).toBe(5);
    expect(generatorInstance(good.slice(1))).toBe(-1);
    expect(generatorInstance(`${good}0`)).toBe(-1);
    expect(generatorInstance(generatorId(0xab, 0xcd).toUpperCase())).toBe(-1);
    expect(generatorInstance(`g${good.slice(1)}`)).toBe(5); // the time part is not looked at
    expect(generatorInstance(`${good.slice(0, 20)}x${good.slice(21)}`)).toBe(-1); // instance part
    expect(generatorCounter(`${good.slice(0, 31)}z`)).toBe(-1); // counter part
    expect(generatorInstance('order-42')).toBe(-1);
  });
});

describe('splitting a batch into runs', () => {
  it('makes a run of consecutive counters of one instance and leaves other ids single', () => {
    const batch = [...ids(1, 100, 10), { messageId: 'user-id' }, ...ids(1, 110, 3), ...ids(2, 0, RUN_IDS_MIN)];
    const split = splitIntoRuns(batch);
    expect(split.instances).toEqual([1, 2]);
    expect([split.firsts, split.lasts, split.starts, split.ends]).toEqual([
      [100, 0],
      [109, RUN_IDS_MIN - 1],
      [0, 14],
      [10, 14 + RUN_IDS_MIN],
    ]);
    expect(split.singles).toEqual([10, 11, 12, 13]);
    expect(runIndexOf(split, 1, 105)).toBe(5);
    expect(runIndexOf(split, 1, 110)).toBe(-1);
  });

  it('starts a new run where the instance changes, the counter jumps or an id is not generated', () => {
    const broken = ids(1, 30, 20);
    broken[5] = { messageId: `${broken[5]!.messageId.slice(0, 31)}x` }; // a counter that is not hex
    const split = splitIntoRuns([...ids(1, 0, 10), ...ids(2, 10, 10), ...ids(2, 21, 10), ...broken]);
    expect(split.instances).toEqual([1, 2, 2, 1]);
    expect([split.firsts, split.lasts]).toEqual([
      [0, 10, 21, 36],
      [9, 19, 30, 49],
    ]);
    expect(split.singles).toEqual([30, 31, 32, 33, 34, 35]); // 30..34 is a stretch of 5, then the broken id
  });

  it('starts a new run where the counter wraps', () => {
    const batch = [...ids(3, 0xffff_fff0, 16), ...ids(3, 0, 16)];
    const split = splitIntoRuns(batch);
    expect([split.firsts, split.lasts]).toEqual([
      [0xffff_fff0, 0],
      [0xffff_ffff, 15],
    ]);
    expect(split.singles).toEqual([]);
  });

  it('sees two runs of one batch that share a counter', () => {
    expect(runsOverlap(splitIntoRuns([...ids(1, 0, 10), ...ids(1, 5, 10)]))).toBe(true);
    expect(runsOverlap(splitIntoRuns([...ids(1, 0, 10), ...ids(2, 5, 10), ...ids(1, 20, 10)]))).toBe(false);
  });
});

describe('id runs', () => {
  it('finds a counter inside a run and not next to it, and only while the run is inside the window', () => {
    const runs = new IdRuns();
    runs.add(7, 100, 227, 't', 1_000, 1_000);
    expect(runs.intersects(7, 150, 150, 0)).toBe(true);
    expect(runs.intersects(7, 0, 100, 0)).toBe(true);
    expect(runs.intersects(7, 228, 355, 0)).toBe(false);
    expect(runs.intersects(7, 0, 99, 0)).toBe(false);
    expect(runs.intersects(8, 150, 150, 0)).toBe(false);
    expect(runs.intersects(7, 150, 150, 1_001)).toBe(false);
  });

  it('merges touching runs of one topic, keeps touching runs of two topics apart, and inserts late runs in order', () => {
    const runs = new IdRuns();
    runs.add(1, 0, 9, 't', 10, 10);
    runs.add(1, 10, 19, 't', 11, 11);
    expect(runs.size).toBe(1);
    runs.add(1, 20, 29, 'u', 12, 12);
    expect(runs.size).toBe(2);
    runs.add(1, 50, 59, 't', 13, 13);
    runs.add(1, 35, 39, 't', 14, 14); // arrives late, between two runs
    expect(runs.size).toBe(4);
    for (const counter of [0, 19, 20, 29, 35, 39, 50, 59]) expect(runs.intersects(1, counter, counter, 0)).toBe(true);
    for (const counter of [30, 34, 40, 49, 60]) expect(runs.intersects(1, counter, counter, 0)).toBe(false);
    runs.add(1, 40, 49, 't', 15, 15); // fills the gap: 35..59 become one run
    expect(runs.size).toBe(3);
    expect(runs.intersects(1, 45, 45, 0)).toBe(true);
  });

  it('sweeps runs that left the window, once per sweep interval', () => {
    const runs = new IdRuns();
    runs.add(1, 0, 9, 't', 100, 100);
    runs.add(2, 0, 9, 't', 5_000, 5_000);
    runs.expire(1_000, 10_000);
    expect(runs.size).toBe(1);
    expect(runs.intersects(2, 5, 5, 1_000)).toBe(true);
    runs.expire(6_000, 10_000 + ID_RUNS_SWEEP_INTERVAL_MS - 1);
    expect(runs.size).toBe(1); // not yet: one sweep per interval
    runs.expire(6_000, 10_000 + ID_RUNS_SWEEP_INTERVAL_MS);
    expect(runs.size).toBe(0);
  });

  it('forgets the runs of a deleted topic only', () => {
    const runs = new IdRuns();
    runs.add(1, 0, 9, 't', 1, 1);
    runs.add(1, 20, 29, 'u', 1, 1);
    runs.forgetTopic('t');
    expect(runs.intersects(1, 5, 5, 0)).toBe(false);
    expect(runs.intersects(1, 25, 25, 0)).toBe(true);
  });

  it('stays within its bound by merging the oldest runs into neighbours, missing none of their counters', () => {
    const runs = new IdRuns(8);
    for (let k = 0; k < 40; k++) runs.add(1, k * 100, k * 100 + 9, 't', k, k);
    expect(runs.size).toBeLessThanOrEqual(8);
    for (let k = 0; k < 40; k++) expect(runs.intersects(1, k * 100 + 5, k * 100 + 5, 0)).toBe(true);
    expect(runs.completeSinceMs).toBe(Number.NEGATIVE_INFINITY); // nothing dropped
  });

  it('drops runs with no neighbour to merge into and says until when it is incomplete', () => {
    const runs = new IdRuns(4);
    for (let k = 0; k < 10; k++) runs.add(k, 0, 9, 't', 100 + k, 100 + k);
    expect(runs.size).toBeLessThanOrEqual(4);
    expect(runs.completeSinceMs).toBeGreaterThan(100);
    expect(runs.intersects(9, 5, 5, 0)).toBe(true); // the newest are kept
  });
});
