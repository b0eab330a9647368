// The once-a-second progress line of a benchmark run, on stderr: msgs/s, MB/s, p50/p99 latency
// and errors over the last interval. On a terminal one line is rewritten in place; otherwise (a
// pipe, a CI log) each interval is its own plain line. A one-line ticker needs no progress-bar
// library: the formatting is a pure function, the shell is one timer.
import type { IntervalSnapshot } from './meter.js';
import type { BenchMeter } from './meter.js';
import { BYTES_PER_MB, formatCount, formatMs } from './report.js';

/** How often a progress line is printed. */
const PROGRESS_INTERVAL_MS = 1_000;

interface ProgressOutput {
  write(text: string): unknown;
  /** True on a terminal: the line is redrawn in place. */
  isTTY?: boolean;
}

/** One progress line (no newline) from one interval of `intervalMs`. */
export function formatProgressLine(snapshot: IntervalSnapshot, intervalMs: number, withLatency: boolean): string {
  const seconds = intervalMs > 0 ? intervalMs / 1000 : 1;
  const parts = [
    `[${String(Math.round(snapshot.elapsedMs / 1000)).padStart(4)} s]`,
    `${formatCount(snapshot.messages / seconds).padStart(9)} msgs/s`,
    `${(snapshot.bytes / BYTES_PER_MB / seconds).toFixed(1).padStart(7)} MB/s`,
  ];
  if (withLatency) parts.push(`p50 ${formatMs(snapshot.latency.p50Ms)}`, `p99 ${formatMs(snapshot.latency.p99Ms)}`);
  parts.push(`errors ${formatCount(snapshot.errors)}`);
  return parts.join('  ');
}

export class ProgressTicker {
  private timer: NodeJS.Timeout | undefined;
  private startedMs = 0;
  private lastTickMs = 0;
  private drawn = false;

  constructor(
    private readonly meter: BenchMeter,
    private readonly out: ProgressOutput,
    private readonly now: () => number,
    private readonly withLatency: boolean,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  start(): void {
    this.startedMs = this.now();
    this.lastTickMs = this.startedMs;
    this.meter.takeInterval(0);
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Prints the interval since the last tick (called by the timer; public for tests). */
  tick(): void {
    const now = this.now();
    const snapshot = this.meter.takeInterval(now - this.startedMs);
    const line = formatProgressLine(snapshot, now - this.lastTickMs, this.withLatency);
    this.lastTickMs = now;
    if (this.out.isTTY === true) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** Stops the timer and ends a line drawn in place, so the summary starts on a fresh line. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
