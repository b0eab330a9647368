import { describe, expect, it } from 'vitest';
import { LATENCY_MICROS_MAX, LatencyHistogram } from '../../../../tools/bench/histogram.js';

/** Relative error HdrHistogram with 3 significant digits promises, plus rounding to microseconds. */
function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.001 + 0.001);
}

describe('LatencyHistogram', () => {
  it('reports the percentiles of a uniform distribution of 1 to 10,000 microseconds', () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 10_000; us++) h.recordMs(us / 1000);
    const p = h.percentiles();
    expect(p.count).toBe(10_000);
    expectClose(p.p50Ms, 5);
    expectClose(p.p90Ms, 9);
    expectClose(p.p99Ms, 9.9);
    expectClose(p.p999Ms, 9.99);
    expectClose(p.maxMs, 10);
    expectClose(p.meanMs, 5.0005);
  });

  it('finds a rare slow tail at p99.9 and max while p50 and p99 stay fast', () => {
    const h = new LatencyHistogram();
    h.recordMs(1, 99_850);
    h.recordMs(50, 150);
    const p = h.percentiles();
    expectClose(p.p50Ms, 1);
    expectClose(p.p99Ms, 1);
    expectClose(p.p999Ms, 50);
    expectClose(p.maxMs, 50);
  });

  it('counts a batch acknowledged at once as one sample per message', () => {
    const h = new LatencyHistogram();
    h.recordMs(2, 64);
    h.recordMs(4);
    expect(h.count).toBe(65);
    expectClose(h.percentileMs(100), 4);
  });

  it('merges histograms so the total has every sample of both', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.recordMs(1, 500);
    b.recordMs(3, 500);
    a.add(b);
    expect(a.count).toBe(1_000);
    expectClose(a.percentileMs(25), 1);
    expectClose(a.percentileMs(75), 3);
  });

  it('answers zeros while empty and again after a reset', () => {
    const h = new LatencyHistogram();
    expect(h.percentiles()).toEqual({ count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
    h.recordMs(7);
    h.reset();
    expect(h.percentiles().count).toBe(0);
  });

  it('records negative differences as zero and clamps huge values to the tracked maximum', () => {
    const h = new LatencyHistogram();
    h.recordMs(-0.5);
    h.recordMs(10 * 3_600_000);
    expect(h.count).toBe(2);
    expect(h.percentileMs(0)).toBe(0);
    expectClose(h.percentileMs(100), LATENCY_MICROS_MAX / 1000);
  });

  it('keeps its memory bounded however many samples it records', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 200_000; i++) h.recordMs((i % 5_000) / 10);
    expect(h.count).toBe(200_000);
    expectClose(h.percentiles().p50Ms, 250);
  });

  it('never reports a percentile above the exact maximum', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 1_000; i++) h.recordMs(44.249);
    const p = h.percentiles();
    expect(p.maxMs).toBeCloseTo(44.249, 2);
    expect(p.p999Ms).toBeLessThanOrEqual(p.maxMs);
    expect(p.p50Ms).toBeLessThanOrEqual(p.maxMs);
  });

  it('rejects a non-finite latency as a programming error', () => {
    expect(() => new LatencyHistogram().recordMs(Number.NaN)).toThrow(/finite/);
    expect(() => new LatencyHistogram().recordMs(Number.POSITIVE_INFINITY)).toThrow(/finite/);
  });

  it('rejects a sample count that is not a whole number of at least 1, and records nothing', () => {
    const h = new LatencyHistogram();
    for (const count of [0, -1, 1.5, Number.NaN]) expect(() => h.recordMs(1, count)).toThrow(/sample count must be a whole number/);
    expect(h.count).toBe(0);
  });
});
