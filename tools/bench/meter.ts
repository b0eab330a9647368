// The live measurements of one benchmark run: messages and bytes done, errors by code, and the
// latency histograms of the current progress interval and of the intervals before it (each result
// is recorded once, into the interval's; taking the interval adds it to the earlier ones, and the
// whole run's histogram is the two added). No I/O and no clock of its own: the runner records, the
// progress ticker takes an interval snapshot once a second, the report reads the totals at the end.
import { errorCodeName, isConveyorError } from '../../common/errors.js';
import { LatencyHistogram, type LatencyPercentiles } from './histogram.js';

/** Distinct error names counted; past this they are counted under OTHER (a run is not a log). */
export const ERROR_KINDS_MAX = 32;
const OTHER_ERROR = 'OTHER';

/** What happened during one progress interval. */
export interface IntervalSnapshot {
  elapsedMs: number;
  messages: number;
  bytes: number;
  errors: number;
  /** Only the two the progress line shows: each percentile walks the histogram's buckets. */
  latency: Pick<LatencyPercentiles, 'p50Ms' | 'p99Ms'>;
}

export class BenchMeter {
  messages = 0;
  bytes = 0;
  errors = 0;
  readonly errorsByKind = new Map<string, number>();
  /** The intervals taken so far. */
  private readonly earlierLatency = new LatencyHistogram();
  private readonly intervalLatency = new LatencyHistogram();
  private interval = { messages: 0, bytes: 0, errors: 0 };

  /** Records `count` messages of `bytes` total that completed with one latency (null: none measured). */
  recordDone(count: number, bytes: number, latencyMs: number | null): void {
    this.messages += count;
    this.bytes += bytes;
    this.interval.messages += count;
    this.interval.bytes += bytes;
    if (latencyMs !== null) this.intervalLatency.recordMs(latencyMs, count);
  }

  /** The whole run's latencies so far: a new histogram (the report reads it once, at the end). */
  get latency(): LatencyHistogram {
    const all = new LatencyHistogram();
    all.add(this.earlierLatency);
    all.add(this.intervalLatency);
    return all;
  }

  /** Records one failure (a failed send counts once, whatever its batch size), under its error code. */
  recordError(err: unknown): void {
    this.recordErrorKind(errorKind(err));
  }

  /** Records `count` failures under one name (e.g. a send status such as SLAVE_TIMEOUT). */
  recordErrorKind(kind: string, count = 1): void {
    this.errors += count;
    this.interval.errors += count;
    const key = this.errorsByKind.has(kind) || this.errorsByKind.size < ERROR_KINDS_MAX ? kind : OTHER_ERROR;
    this.errorsByKind.set(key, (this.errorsByKind.get(key) ?? 0) + count);
  }

  /** Returns what happened since the previous call (or since the start) and starts a new interval. */
  takeInterval(elapsedMs: number): IntervalSnapshot {
    const h = this.intervalLatency;
    const snapshot = { elapsedMs, ...this.interval, latency: { p50Ms: h.percentileMs(50), p99Ms: h.percentileMs(99) } };
    this.interval = { messages: 0, bytes: 0, errors: 0 };
    this.earlierLatency.add(h);
    h.reset();
    return snapshot;
  }

  errorCounts(): Record<string, number> {
    return Object.fromEntries([...this.errorsByKind.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** The name an error is counted under: its Conveyor code name, else its class name. */
function errorKind(err: unknown): string {
  if (isConveyorError(err)) return errorCodeName(err.code);
  if (err instanceof Error) return err.name || 'Error';
  return OTHER_ERROR;
}
