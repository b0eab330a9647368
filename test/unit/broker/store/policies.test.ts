import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../../../broker/store/checkpoint.js';
import { planSpans } from '../../../../broker/store/read-path.js';
import { nextRetentionStep, refusesWrites, type RetentionState } from '../../../../broker/store/retention-policy.js';

const HOUR = 3_600_000;
const base: RetentionState = {
  oldest: { baseOffset: 0, lastModifiedMs: 0 },
  segmentCount: 3,
  nowMs: 10 * HOUR,
  retentionMs: 72 * HOUR,
  usedPercent: 10,
  softThresholdPercent: 75,
  deletedForPressure: 0,
  pressureDeletesMax: 16,
};

describe('retention policy (pure)', () => {
  it('deletes the oldest segment once it is older than the retention time', () => {
    expect(nextRetentionStep(base)).toEqual({ action: 'stop' });
    expect(nextRetentionStep({ ...base, nowMs: 72 * HOUR })).toEqual({ action: 'delete', baseOffset: 0, reason: 'expired' });
  });

  it('never deletes the active segment', () => {
    expect(nextRetentionStep({ ...base, segmentCount: 1, nowMs: 1000 * HOUR, usedPercent: 99 })).toEqual({ action: 'stop' });
  });

  it('deletes young segments past the soft threshold, up to the per-run maximum', () => {
    expect(nextRetentionStep({ ...base, usedPercent: 80 })).toEqual({ action: 'delete', baseOffset: 0, reason: 'disk-pressure' });
    expect(nextRetentionStep({ ...base, usedPercent: 80, deletedForPressure: 16 })).toEqual({ action: 'stop' });
  });

  it('refuses writes at the hard threshold', () => {
    expect(refusesWrites(89.9, 90)).toBe(false);
    expect(refusesWrites(90, 90)).toBe(true);
  });
});

describe('read planning (pure)', () => {
  it('coalesces adjacent records into one read and bridges small gaps', () => {
    const spans = planSpans([0, 100, 200, 20_000_000], [100, 100, 50, 10], 1 << 30);
    expect(spans).toEqual([
      { physicalOffset: 0, length: 250, first: 0, last: 2, gapless: true },
      { physicalOffset: 20_000_000, length: 10, first: 3, last: 3, gapless: true },
    ]);
    expect(planSpans([0, 300], [100, 100], 1 << 30)).toEqual([{ physicalOffset: 0, length: 400, first: 0, last: 1, gapless: false }]);
  });

  it('never reads across a segment end', () => {
    expect(planSpans([900, 1000], [100, 50], 1000)).toHaveLength(2);
  });
});

describe('checkpoint encoding', () => {
  it('round-trips and rejects what is not a checkpoint', () => {
    const checkpoint: Checkpoint = { formatVersion: 1, segmentBytes: 65536, commitLogFlushedPhysicalOffset: 10, consumeQueuePhysicalOffset: 9, indexPhysicalOffset: 8, queues: [['t', 0, 4]], writtenAtMs: 5 };
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint))).toEqual(checkpoint);
    expect(decodeCheckpoint(Buffer.from('{"formatVersion":1'))).toBeUndefined();
    expect(decodeCheckpoint(Buffer.from(JSON.stringify({ ...checkpoint, formatVersion: 2 })))).toBeUndefined();
    expect(decodeCheckpoint(Buffer.from(JSON.stringify({ ...checkpoint, queues: [['t', 'x', 1]] })))).toBeUndefined();
  });
});
