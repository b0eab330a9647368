// The final summary of a benchmark run: throughput, latency percentiles and error counts, as an
// object (`--json`: one JSON document on stdout, for the suite and other programs) or as a few
// aligned lines for a person. Pure: building and formatting take values, never a clock or stream.
import type { LatencyPercentiles } from './histogram.js';
import type { BenchMeter } from './meter.js';

type BenchKind = 'produce' | 'consume' | 'e2e';
/** Why a run ended: its --count reached, its --duration-s over, the --timeout-s of a count run hit, a drained backlog (consume), or a signal. */
export type StopReason = 'count' | 'duration' | 'timeout' | 'idle' | 'interrupted';

/** One MB is 10^6 bytes in every figure this tool prints. */
export const BYTES_PER_MB = 1_000_000;

export interface BenchSummary {
  kind: BenchKind;
  topic: string;
  /** The flags the run used, after defaults. */
  settings: Record<string, string | number | boolean>;
  messages: number;
  bytes: number;
  /** The measured window: produce from the first send; consume from the first message received; e2e the paced phase. */
  elapsedMs: number;
  msgsPerS: number;
  mbPerS: number;
  errors: number;
  errorsByKind: Record<string, number>;
  /** produce: send → acknowledged, per message; e2e: send → received; consume: null (a backlog has no latency). */
  latency: LatencyPercentiles | null;
  stoppedBy: StopReason;
  /** Figures particular to one kind (e2e: sent, received, missed slots; consume: time to first message). */
  details: Record<string, number>;
}

interface SummaryInput {
  kind: BenchKind;
  topic: string;
  settings: Record<string, string | number | boolean>;
  meter: BenchMeter;
  elapsedMs: number;
  stoppedBy: StopReason;
  withLatency: boolean;
  details?: Record<string, number>;
}

export function buildSummary(input: SummaryInput): BenchSummary {
  const { meter } = input;
  const seconds = input.elapsedMs / 1000;
  return {
    kind: input.kind,
    topic: input.topic,
    settings: input.settings,
    messages: meter.messages,
    bytes: meter.bytes,
    elapsedMs: round(input.elapsedMs, 1),
    msgsPerS: seconds > 0 ? round(meter.messages / seconds, 1) : 0,
    mbPerS: seconds > 0 ? round(meter.bytes / BYTES_PER_MB / seconds, 2) : 0,
    errors: meter.errors,
    errorsByKind: meter.errorCounts(),
    latency: input.withLatency ? roundPercentiles(meter.latency.percentiles()) : null,
    stoppedBy: input.stoppedBy,
    details: input.details ?? {},
  };
}

const LATENCY_WHAT: Record<BenchKind, string> = {
  produce: 'send → acknowledged',
  consume: '',
  e2e: 'send → received',
};

/** The summary for a person: a header line and aligned figure lines, ending in a newline. */
export function formatSummary(summary: BenchSummary): string {
  const settings = Object.entries(summary.settings).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  const lines = [
    `${summary.kind}  topic=${summary.topic}  ${settings}`,
    `  messages    ${formatCount(summary.messages)} in ${(summary.elapsedMs / 1000).toFixed(2)} s (stopped by ${summary.stoppedBy})`,
    `  throughput  ${formatCount(Math.round(summary.msgsPerS))} msgs/s  ${summary.mbPerS.toFixed(1)} MB/s`,
  ];
  if (summary.latency !== null) {
    lines.push(`  latency     ${formatLatency(summary.latency)}  (${LATENCY_WHAT[summary.kind]}, ${formatCount(summary.latency.count)} samples)`);
  }
  const errorKinds = Object.entries(summary.errorsByKind).map(([k, n]) => `${k} ${formatCount(n)}`).join(', ');
  lines.push(`  errors      ${formatCount(summary.errors)}${errorKinds.length > 0 ? ` (${errorKinds})` : ''}`);
  const details = Object.entries(summary.details);
  if (details.length > 0) lines.push(`  details     ${details.map(([k, v]) => `${k}=${formatNumber(v)}`).join('  ')}`);
  return `${lines.join('\n')}\n`;
}

/** `p50 1.23 ms  p90 …  p99 …  p99.9 …  max …` */
function formatLatency(p: LatencyPercentiles): string {
  return `p50 ${formatMs(p.p50Ms)}  p90 ${formatMs(p.p90Ms)}  p99 ${formatMs(p.p99Ms)}  p99.9 ${formatMs(p.p999Ms)}  max ${formatMs(p.maxMs)}`;
}

/** Milliseconds with three significant figures: 0.412 ms, 4.21 ms, 42.1 ms, 421 ms. */
export function formatMs(ms: number): string {
  if (ms === 0) return '0 ms';
  const digits = ms < 1 ? 3 : ms < 10 ? 2 : ms < 100 ? 1 : 0;
  return `${ms.toFixed(digits)} ms`;
}

/** 1234567 → 1,234,567 (fixed locale, so output does not depend on the machine). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? formatCount(n) : String(round(n, 2));
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundPercentiles(p: LatencyPercentiles): LatencyPercentiles {
  return {
    count: p.count,
    meanMs: round(p.meanMs, 3),
    p50Ms: round(p.p50Ms, 3),
    p90Ms: round(p.p90Ms, 3),
    p99Ms: round(p.p99Ms, 3),
    p999Ms: round(p.p999Ms, 3),
    maxMs: round(p.maxMs, 3),
  };
}
