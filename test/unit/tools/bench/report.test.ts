import { describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { BenchMeter, ERROR_KINDS_MAX } from '../../../../tools/bench/meter.js';
import { buildSummary, formatCount, formatMs, formatSummary } from '../../../../tools/bench/report.js';
import { formatProgressLine, ProgressTicker } from '../../../../tools/bench/progress.js';

function meterWith(messages: number, latencyMs: number): BenchMeter {
  const meter = new BenchMeter();
  meter.recordDone(messages, messages * 1024, latencyMs);
  return meter;
}

describe('benchmark summary', () => {
  it('computes throughput over the measured window', () => {
    const summary = buildSummary({ kind: 'produce', topic: 't', settings: { size: 1024 }, meter: meterWith(200_000, 1.5), elapsedMs: 2_000, stoppedBy: 'count', withLatency: true });
    expect(summary.messages).toBe(200_000);
    expect(summary.msgsPerS).toBe(100_000);
    expect(summary.mbPerS).toBeCloseTo(102.4, 2);
    expect(summary.latency?.p99Ms).toBeCloseTo(1.5, 2);
    expect(summary.stoppedBy).toBe('count');
  });

  it('leaves latency out when the run measures none (consume)', () => {
    const summary = buildSummary({ kind: 'consume', topic: 't', settings: {}, meter: meterWith(10, 0), elapsedMs: 1_000, stoppedBy: 'idle', withLatency: false });
    expect(summary.latency).toBeNull();
    expect(formatSummary(summary)).not.toContain('latency');
  });

  it('reports zero throughput instead of dividing by a zero window', () => {
    const summary = buildSummary({ kind: 'produce', topic: 't', settings: {}, meter: new BenchMeter(), elapsedMs: 0, stoppedBy: 'interrupted', withLatency: true });
    expect(summary.msgsPerS).toBe(0);
    expect(summary.mbPerS).toBe(0);
  });

  it('counts errors by their Conveyor code name and survives a JSON round trip', () => {
    const meter = meterWith(5, 1);
    meter.recordError(new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, 'busy'));
    meter.recordError(new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, 'busy'));
    meter.recordError(new TypeError('oops'));
    const summary = buildSummary({ kind: 'produce', topic: 't', settings: {}, meter, elapsedMs: 1_000, stoppedBy: 'duration', withLatency: true });
    expect(summary.errors).toBe(3);
    expect(summary.errorsByKind).toEqual({ SERVICE_UNAVAILABLE: 2, TypeError: 1 });
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('folds error kinds past the limit into OTHER', () => {
    const meter = new BenchMeter();
    for (let i = 0; i < ERROR_KINDS_MAX + 5; i++) {
      const err = new Error('x');
      err.name = `Kind${i}`;
      meter.recordError(err);
    }
    expect(Object.keys(meter.errorCounts())).toHaveLength(ERROR_KINDS_MAX + 1);
    expect(meter.errorCounts().OTHER).toBe(5);
  });

  it('formats a summary a person can read', () => {
    const summary = buildSummary({ kind: 'e2e', topic: 'bench', settings: { rate: 2000 }, meter: meterWith(60_000, 2.25), elapsedMs: 30_000, stoppedBy: 'duration', withLatency: true, details: { sent: 60_000 } });
    const text = formatSummary(summary);
    expect(text).toContain('e2e  topic=bench  rate=2000');
    expect(text).toContain('60,000 in 30.00 s (stopped by duration)');
    expect(text).toContain('2,000 msgs/s');
    expect(text).toMatch(/p50 2\.2\d ms {2}p90/);
    expect(text).toContain('send → received');
    expect(text).toContain('sent=60,000');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('formats milliseconds with three significant figures and counts with separators', () => {
    expect(formatMs(0.4123)).toBe('0.412 ms');
    expect(formatMs(4.216)).toBe('4.22 ms');
    expect(formatMs(42.13)).toBe('42.1 ms');
    expect(formatMs(421.3)).toBe('421 ms');
    expect(formatCount(1234567.4)).toBe('1,234,567');
  });
});

describe('progress line', () => {
  it('shows the interval rate, bandwidth, p50/p99 and errors', () => {
    const meter = meterWith(150_000, 1.2);
    meter.recordError(new Error('x'));
    const line = formatProgressLine(meter.takeInterval(3_000), 1_000, true);
    expect(line).toMatch(/\[ {3}3 s\] +150,000 msgs\/s +153\.6 MB\/s +p50 1\.20 ms +p99 1\.20 ms +errors 1/);
  });

  it('scales the rate to the real interval length', () => {
    const line = formatProgressLine(meterWith(3_000, 1).takeInterval(2_000), 2_000, false);
    expect(line).toContain('1,500 msgs/s');
    expect(line).not.toContain('p50');
  });

  it('keeps every latency in the whole run while each interval shows only its own', () => {
    const meter = new BenchMeter();
    meter.recordDone(90, 90 * 1024, 1);
    const first = meter.takeInterval(1_000);
    meter.recordDone(10, 10 * 1024, 20);
    const second = meter.takeInterval(2_000);
    meter.recordDone(5, 5 * 1024, 300); // after the last interval: only the run's total holds it
    expect(first.latency.p99Ms).toBeCloseTo(1, 2);
    expect(second.latency.p50Ms).toBeCloseTo(20, 1);
    const run = meter.latency.percentiles();
    expect(run.count).toBe(105);
    expect(run.p50Ms).toBeCloseTo(1, 2);
    expect(run.maxMs).toBeCloseTo(300, 0);
    expect(meter.latency.count).toBe(105); // reading it does not move or drop samples
    expect(meter.takeInterval(3_000).latency.p50Ms).toBeCloseTo(300, 0);
  });

  it('writes plain lines when not on a terminal and starts each interval afresh', () => {
    const meter = new BenchMeter();
    const written: string[] = [];
    let now = 0;
    const ticker = new ProgressTicker(meter, { write: (t: string) => written.push(t), isTTY: false }, () => now, true, 60_000);
    ticker.start();
    meter.recordDone(1_000, 1_000, 1);
    now = 1_000;
    ticker.tick();
    now = 2_000;
    ticker.tick();
    ticker.stop();
    expect(written).toHaveLength(2);
    expect(written[0]).toContain('1,000 msgs/s');
    expect(written[1]).toContain('  0 msgs/s');
    expect(written.every((l) => l.endsWith('\n'))).toBe(true);
  });

  it('redraws one line in place on a terminal and ends it when stopped', () => {
    const written: string[] = [];
    let now = 0;
    const ticker = new ProgressTicker(new BenchMeter(), { write: (t: string) => written.push(t), isTTY: true }, () => now, true, 60_000);
    ticker.start();
    now = 1_000;
    ticker.tick();
    ticker.stop();
    expect(written[0]?.startsWith('\r\x1b[2K')).toBe(true);
    expect(written[1]).toBe('\n');
  });
});
