// When did the master's commit log first reach past a given physical offset? (pure)
//
// Replication lag in milliseconds is "how long ago the master held a byte the slave still lacks":
// the time of the first moment the master's max physical offset exceeded the slave's offset. A
// "time since the slave was last fully caught up" measure would grow without end on a busy
// master, where a healthy slave is always a few bytes behind; this one stays small.
//
// The timeline keeps (offset, time) samples as the master's max grows. Advances closer together
// than the sample spacing share one sample (which keeps the earlier time), so the answer may be
// too large by up to the spacing, never too small. Past the sample limit the oldest samples go;
// an offset older than every sample is answered with the oldest sample's time (a lower bound).
import { assert } from '../../common/errors.js';

/** Samples kept: at one sample per spacing this covers 4096 × 10 ms ≈ 41 s of continuous appends. */
const LAG_SAMPLES_MAX = 4_096;
/** Advances closer than this share a sample; bounds the error of lagMs and the sampling cost. */
const LAG_SAMPLE_SPACING_MS = 10;

export class OffsetTimeline {
  private offsets: number[] = [];
  private times: number[] = [];

  constructor(
    private readonly samplesMax = LAG_SAMPLES_MAX,
    private readonly spacingMs = LAG_SAMPLE_SPACING_MS,
  ) {
    assert(samplesMax >= 1, 'OffsetTimeline needs room for one sample');
  }

  /** The newest offset recorded (0 before any). */
  get latestOffset(): number {
    return this.offsets[this.offsets.length - 1] ?? 0;
  }

  /**
   * Notes that the log reached `offset` at `timeMs`. Offsets not past the latest are ignored; a
   * smaller offset after a master restart that lost its tail is recorded by reset() first.
   */
  record(offset: number, timeMs: number): void {
    const last = this.offsets.length - 1;
    const lastOffset = this.offsets[last];
    const lastTime = this.times[last];
    if (lastOffset !== undefined && offset <= lastOffset) return;
    if (lastOffset !== undefined && lastTime !== undefined && timeMs - lastTime < this.spacingMs) {
      this.offsets[last] = offset;
      return;
    }
    this.offsets.push(offset);
    this.times.push(timeMs);
    if (this.offsets.length > this.samplesMax) {
      this.offsets.shift();
      this.times.shift();
    }
  }

  /** Forgets every sample (the log this timeline described is gone, e.g. a new master). */
  reset(): void {
    this.offsets = [];
    this.times = [];
  }

  /** Milliseconds since the log first held a byte at or past `reachedOffset`; 0 when it never did. */
  lagMs(reachedOffset: number, nowMs: number): number {
    if (this.latestOffset <= reachedOffset) return 0;
    // First sample whose offset is past reachedOffset (exists: the latest one is).
    let low = 0;
    let high = this.offsets.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.offsets[middle] ?? 0) > reachedOffset) high = middle;
      else low = middle + 1;
    }
    const since = this.times[low] ?? nowMs;
    return Math.max(0, nowMs - since);
  }
}
