import { describe, expect, it } from 'vitest';
import { OffsetTimeline } from '../../../../broker/replication/offset-timeline.js';

describe('offset timeline (replication lag in ms)', () => {
  it('answers 0 for an offset the log never passed', () => {
    const timeline = new OffsetTimeline();
    expect(timeline.lagMs(0, 1_000)).toBe(0);
    timeline.record(100, 1_000);
    expect(timeline.lagMs(100, 5_000)).toBe(0);
    expect(timeline.lagMs(150, 5_000)).toBe(0);
  });

  it('measures from the first moment the log passed the offset, not from the last advance', () => {
    const timeline = new OffsetTimeline(100, 10);
    timeline.record(100, 1_000);
    timeline.record(200, 2_000);
    timeline.record(300, 3_000);
    expect(timeline.lagMs(150, 3_500)).toBe(1_500);
    expect(timeline.lagMs(99, 3_500)).toBe(2_500);
    expect(timeline.lagMs(250, 3_500)).toBe(500);
  });

  it('merges advances closer than the spacing into one sample keeping the earlier time', () => {
    const timeline = new OffsetTimeline(100, 10);
    timeline.record(100, 1_000);
    timeline.record(200, 1_005);
    expect(timeline.latestOffset).toBe(200);
    expect(timeline.lagMs(150, 1_020)).toBe(20);
  });

  it('ignores offsets that do not advance', () => {
    const timeline = new OffsetTimeline(100, 10);
    timeline.record(100, 1_000);
    timeline.record(50, 2_000);
    expect(timeline.latestOffset).toBe(100);
    expect(timeline.lagMs(60, 3_000)).toBe(2_000);
  });

  it('keeps a bounded number of samples and answers older offsets with the oldest time kept', () => {
    const timeline = new OffsetTimeline(3, 10);
    for (let i = 1; i <= 5; i += 1) timeline.record(i * 100, i * 1_000);
    // Samples 300@3000, 400@4000, 500@5000 remain.
    expect(timeline.lagMs(0, 6_000)).toBe(3_000);
    expect(timeline.lagMs(350, 6_000)).toBe(2_000);
  });

  it('starts over after reset', () => {
    const timeline = new OffsetTimeline();
    timeline.record(1_000, 1_000);
    timeline.reset();
    timeline.record(500, 2_000);
    expect(timeline.latestOffset).toBe(500);
    expect(timeline.lagMs(0, 2_500)).toBe(500);
  });
});
