// Latency percentiles for the benchmark tool, on HdrHistogram (hdr-histogram-js): values are
// recorded in microseconds into a fixed set of log-linear buckets, so memory stays bounded (tens
// of KiB) however many samples a run records, and no sample is ever kept. Three significant
// digits: a reported p99 of 4.215 ms is within 0.1 % of the true value.
import * as hdr from 'hdr-histogram-js';
import { assert } from '../../common/errors.js';

/** Lowest value told apart from zero: one microsecond (timers give sub-µs, nothing we do is faster). */
const LOWEST_MICROS = 1;
/** Highest value tracked: 10 minutes. Larger samples are clamped here (and show as max). */
export const LATENCY_MICROS_MAX = 600_000_000;
/** Significant decimal digits kept per value: bounds the relative error to 0.1 %. */
const SIGNIFICANT_DIGITS = 3;

/** Percentiles of one histogram, in milliseconds (fractional). All zero when count is zero. */
export interface LatencyPercentiles {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: LOWEST_MICROS,
    highestTrackableValue: LATENCY_MICROS_MAX,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    bitBucketSize: 64,
    autoResize: false,
    useWebAssembly: false,
  });

  /** Records one latency (or `count` equal ones: a batch acknowledged at once) in milliseconds. */
  recordMs(latencyMs: number, count = 1): void {
    // Checked before the message is built: this runs once per result, and formatting a fractional
    // number into a template string costs more than the check.
    if (!Number.isFinite(latencyMs)) assert(false, `latency must be a finite number, got ${latencyMs}`);
    if (!Number.isInteger(count) || count < 1) assert(false, `sample count must be a whole number ≥ 1, got ${count}`);
    // A clock step can make a difference slightly negative; it is a zero, not an error.
    const micros = Math.min(LATENCY_MICROS_MAX, Math.max(0, Math.round(latencyMs * 1000)));
    this.histogram.recordValueWithCount(micros, count);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** Adds every sample of `other` (e.g. the per-producer histograms into the run's total). */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  reset(): void {
    this.histogram.reset();
  }

  /** The latency at a percentile (0–100), in milliseconds. */
  percentileMs(percentile: number): number {
    assert(percentile >= 0 && percentile <= 100, `percentile must be within 0–100, got ${percentile}`);
    if (this.histogram.totalCount === 0) return 0;
    return this.histogram.getValueAtPercentile(percentile) / 1000;
  }

  percentiles(): LatencyPercentiles {
    if (this.histogram.totalCount === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    // A percentile is reported as the top of its bucket, which can lie just above the exact maximum.
    const maxMs = this.histogram.maxValue / 1000;
    const at = (percentile: number): number => Math.min(this.percentileMs(percentile), maxMs);
    return { count: this.histogram.totalCount, meanMs: this.histogram.mean / 1000, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), p999Ms: at(99.9), maxMs };
  }
}
