// The standard suite's figures (pure): each case's runs reduced to median and min–max, judged
// against its issue-6 target, and written as the markdown table of `npm run bench` with the
// machine line above it. The suite script (tools/bench/bench-suite.ts) runs the cases; this decides
// what they mean.
import { assert } from '../../common/errors.js';

/** 'none': an informational row (e.g. the machine's gRPC floor), never met or missed. */
type Comparison = '>=' | '<=' | 'none';

export interface CaseTarget {
  /** What is compared: the median of `values`. */
  comparison: Comparison;
  value: number;
  /** How the issue words it, e.g. '≥ 150,000 msgs/s'. */
  text: string;
}

/** measured: figures exist; pending: a prerequisite (e.g. replication) is missing; failed: the run broke. */
type CaseStatus = 'measured' | 'pending' | 'failed';

export interface CaseResult {
  id: string;
  title: string;
  unit: string;
  target: CaseTarget;
  status: CaseStatus;
  /** One value per run (msgs/s, ms, ratio …). */
  values: number[];
  median: number | null;
  min: number | null;
  max: number | null;
  met: boolean | null;
  /** Secondary figures for the table (e.g. 'p99 send → ack': '4.1 ms'). */
  extra: Record<string, string>;
  note: string;
}

export interface MachineLine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** 1-minute load average when the suite started and ended: other work on the machine shows here. */
  loadStart: number;
  loadEnd: number;
  /** Linux PSI `some avg60` of /proc/pressure/cpu: % of time a task waited for a CPU; null where absent. */
  cpuPressureStart: number | null;
  cpuPressureEnd: number | null;
}

/** A process's resident memory in KiB, as /proc/<pid>/status gives it. */
export interface RssKiB {
  /** VmRSS: everything resident. */
  total: number;
  /** RssAnon: anonymous memory (the V8 heap, malloc arenas, stacks). */
  anon: number;
  /** RssFile: pages of mapped files (the binary and its libraries, LevelDB's memory-mapped tables). */
  file: number;
}

/** Reads the RSS lines of a /proc/<pid>/status text; a missing line reads 0. Pure. */
export function parseRss(status: string): RssKiB {
  const kib = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match === null ? 0 : Number(match[1]);
  };
  return { total: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') };
}

export function median(values: readonly number[]): number {
  assert(values.length > 0, 'median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function meets(target: CaseTarget, value: number): boolean {
  switch (target.comparison) {
    case '>=':
      return value >= target.value;
    case '<=':
      return value <= target.value;
    case 'none':
      return true;
  }
}

/** Builds a case's result from its run values (empty values: pending or failed, as given). */
export function caseResult(input: {
  id: string;
  title: string;
  unit: string;
  target: CaseTarget;
  values: number[];
  status?: CaseStatus;
  extra?: Record<string, string>;
  note?: string;
}): CaseResult {
  const status = input.status ?? (input.values.length > 0 ? 'measured' : 'failed');
  const measured = status === 'measured' && input.values.length > 0;
  const mid = measured ? median(input.values) : null;
  return {
    id: input.id,
    title: input.title,
    unit: input.unit,
    target: input.target,
    status,
    values: input.values,
    median: mid,
    min: measured ? Math.min(...input.values) : null,
    max: measured ? Math.max(...input.values) : null,
    met: mid === null || input.target.comparison === 'none' ? null : meets(input.target, mid),
    extra: input.extra ?? {},
    note: input.note ?? '',
  };
}

/** How far a measured median is from its target: '-63 %' (short of a ≥ target) or '+20 %' (over a ≤ target). */
export function gap(result: CaseResult): string {
  if (result.median === null || result.met !== false || result.target.value === 0) return '';
  const percent = Math.round(((result.median - result.target.value) / result.target.value) * 100);
  return `${percent > 0 ? '+' : ''}${percent} %`;
}

export function formatValue(value: number, unit: string): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  const text = abs >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
  return unit.length > 0 ? `${text} ${unit}` : text;
}

function formatMachine(m: MachineLine): string {
  const pressure = m.cpuPressureStart === null || m.cpuPressureEnd === null ? '' : `; CPU pressure (PSI some avg60) ${m.cpuPressureStart} % at start, ${m.cpuPressureEnd} % at end`;
  return `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, Node ${m.node}; load average ${m.loadStart.toFixed(2)} at start, ${m.loadEnd.toFixed(2)} at end${pressure}`;
}

/** The suite's markdown: machine line, then one row per case. */
export function formatMarkdown(machine: MachineLine, results: readonly CaseResult[], runs: number): string {
  const lines = [
    formatMachine(machine),
    '',
    `Each figure is the median of ${runs} run${runs === 1 ? '' : 's'} (min–max in brackets), client and cluster on this machine, 1 KiB messages.`,
    '',
    '| case | target | median (min–max) | met | other figures | notes |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const figure =
      r.median === null
        ? r.status
        : `${formatValue(r.median, r.unit)} (${formatValue(r.min as number, '')}–${formatValue(r.max as number, '')})`;
    const met = r.met === null ? '–' : r.met ? 'yes' : `no (${gap(r)})`;
    const extra = Object.entries(r.extra).map(([k, v]) => `${k} ${v}`).join('; ');
    lines.push(`| ${escapeCell(r.title)} | ${r.target.text} | ${figure} | ${met} | ${escapeCell(extra)} | ${escapeCell(r.note)} |`);
  }
  return `${lines.join('\n')}\n`;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
