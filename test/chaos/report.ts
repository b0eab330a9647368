// The chaos report (pure): verdict, recovery per fault, medians per fault kind, and the checks a
// run must pass; printed as text and written as JSON.
import type { Verdict } from './ledger.js';
import { median, type FaultRecovery } from './recovery.js';
import { FAULT_KINDS, type FaultKind, type PlannedFault } from './schedule.js';

/** Done-when bounds of issue 5 (medians over the run's master kills). */
export const PRODUCER_RESUME_AFTER_MASTER_KILL_MS_MAX = 5_000;
export const CONSUMER_RESUME_FROM_SLAVE_MS_MAX = 10_000;

export interface ChaosSettings {
  seed: string;
  durationS: number;
  killEveryS: number;
  replication: 'sync' | 'async';
  flush: 'async' | 'sync';
  producers: number;
  ratePerProducer: number;
  consumers: number;
  queuesPerGroup: number;
}

export interface KindSummary {
  faults: number;
  skipped: number;
  producerResumeMedianMs: number | null;
  consumerResumeMedianMs: number | null;
  consumerResumeTargetMedianMs: number | null;
  /** Faults after which producers (consumers) had not resumed before the next fault. */
  producerNotResumed: number;
  consumerNotResumed: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosReport {
  settings: ChaosSettings;
  startedAt: string;
  /** Workload time: producers ran for this long. */
  producingMs: number;
  drainMs: number;
  drained: boolean;
  schedule: PlannedFault[];
  faults: FaultRecovery[];
  byKind: Record<FaultKind, KindSummary>;
  verdict: Verdict;
  consumerStats: Array<{ handled: number; pulledFromSlaves: number }>;
  proxyConnectionsFrozen: number;
  notes: string[];
  checks: Check[];
  passed: boolean;
}

export function summarizeByKind(faults: readonly FaultRecovery[]): Record<FaultKind, KindSummary> {
  const out = {} as Record<FaultKind, KindSummary>;
  for (const kind of FAULT_KINDS) {
    const all = faults.filter((f) => f.kind === kind);
    const ran = all.filter((f) => f.skipped === null);
    const round = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v));
    out[kind] = {
      faults: all.length,
      skipped: all.length - ran.length,
      producerResumeMedianMs: round(median(ran.map((f) => f.producerResumeMs))),
      consumerResumeMedianMs: round(median(ran.map((f) => f.consumerResumeMs))),
      consumerResumeTargetMedianMs: round(median(ran.map((f) => f.consumerResumeTargetMs))),
      producerNotResumed: ran.filter((f) => f.producerResumeMs === null).length,
      consumerNotResumed: ran.filter((f) => f.consumerResumeMs === null).length,
    };
  }
  return out;
}

export function checksFor(verdict: Verdict, byKind: Record<FaultKind, KindSummary>, drained: boolean): Check[] {
  const kills = byKind['kill-master'];
  const checks: Check[] = [
    { name: 'no acknowledged (OK) message lost', ok: verdict.lost === 0, detail: `${verdict.lost} of ${verdict.acknowledged} lost${verdict.lost > 0 ? `: ${verdict.lostIds.join(', ')}` : ''}` },
    { name: 'no order violation within a queue', ok: verdict.orderViolations === 0, detail: `${verdict.orderViolations}${verdict.orderViolations > 0 ? `: ${verdict.orderViolationSamples.join('; ')}` : ''}` },
    {
      name: 'every message stored on a master only (SLAVE_*) delivered too',
      ok: verdict.lostMasterOnly === 0,
      detail: `${verdict.lostMasterOnly} of ${verdict.acknowledgedMasterOnly + verdict.acknowledgedFlushTimeout} not delivered${verdict.lostMasterOnly > 0 ? `: ${verdict.lostMasterOnlyIds.join(', ')}` : ''}`,
    },
    { name: 'no delivery of a message nobody sent', ok: verdict.unknownDeliveries === 0, detail: String(verdict.unknownDeliveries) },
    { name: 'consumers drained everything stored', ok: drained, detail: drained ? 'yes' : 'no: drain timed out' },
  ];
  if (kills.faults - kills.skipped > 0) {
    const producer = kills.producerResumeMedianMs;
    const consumer = kills.consumerResumeTargetMedianMs;
    checks.push({
      name: `median producer resume after a master kill <= ${PRODUCER_RESUME_AFTER_MASTER_KILL_MS_MAX / 1000} s`,
      ok: producer !== null && producer <= PRODUCER_RESUME_AFTER_MASTER_KILL_MS_MAX,
      detail: producer === null ? 'producers never resumed' : `${producer} ms over ${kills.faults - kills.skipped} kills`,
    });
    checks.push({
      name: `median consumer resume from the slave after a master kill <= ${CONSUMER_RESUME_FROM_SLAVE_MS_MAX / 1000} s`,
      ok: consumer !== null && consumer <= CONSUMER_RESUME_FROM_SLAVE_MS_MAX,
      detail: consumer === null ? 'consumers never caught up' : `${consumer} ms over ${kills.faults - kills.skipped} kills`,
    });
  }
  return checks;
}

function ms(value: number | null): string {
  return value === null ? '—' : `${(value / 1000).toFixed(2)} s`;
}

/** The report as text for a terminal. */
export function formatReport(report: ChaosReport): string {
  const v = report.verdict;
  const s = report.settings;
  const lines = [
    `chaos report — seed ${s.seed}, ${s.durationS} s, a fault about every ${s.killEveryS} s, ${s.replication} replication, ${s.flush} flush`,
    `  workload: ${s.producers} producers × ${s.ratePerProducer} msg/s, ${s.consumers} consumers, ${s.queuesPerGroup} queues per broker group`,
    `  sends ${v.sends}: acknowledged OK ${v.acknowledged}, stored on the master only (SLAVE_*) ${v.acknowledgedMasterOnly}, FLUSH_TIMEOUT ${v.acknowledgedFlushTimeout}, failed ${v.failed} ${JSON.stringify(v.failedByError)} (of which delivered anyway ${v.failedButDelivered})`,
    `  consumed ${v.consumed} distinct ids in ${v.deliveries} deliveries; pulled from slaves ${report.consumerStats.reduce((sum, c) => sum + c.pulledFromSlaves, 0)}`,
    `  lost (OK, never delivered) ${v.lost}; master-only never delivered ${v.lostMasterOnly}`,
    `  duplicated ids ${v.duplicatedIds} (${v.duplicateDeliveries} extra deliveries; stored twice by a hopped retry ${v.storedTwice})`,
    `  order violations within a queue ${v.orderViolations}; stored offsets never delivered ${v.undeliveredOffsets}; unknown deliveries ${v.unknownDeliveries}`,
    `  drain ${report.drained ? 'complete' : 'TIMED OUT'} in ${ms(report.drainMs)}`,
    '  faults:',
    '    #  at        kind             target        healed    producers  consumers  (target)   backlog  retries  failed  slave*',
  ];
  for (const f of report.faults) {
    if (f.skipped !== null) {
      lines.push(`    ${String(f.index).padStart(2)} ${ms(f.injectedAtMs).padStart(8)}  ${f.kind.padEnd(16)} ${f.target.padEnd(13)} skipped: ${f.skipped}`);
      continue;
    }
    lines.push(
      `    ${String(f.index).padStart(2)} ${ms(f.injectedAtMs).padStart(8)}  ${f.kind.padEnd(16)} ${f.target.padEnd(13)} ${ms(f.healedAtMs === null ? null : f.healedAtMs - f.injectedAtMs).padStart(8)}  ${ms(f.producerResumeMs).padStart(9)}  ${ms(f.consumerResumeMs).padStart(9)}  ${ms(f.consumerResumeTargetMs).padStart(8)}   ${String(f.backlog).padStart(7)}  ${String(f.retries).padStart(7)}  ${String(f.sendsFailed).padStart(6)}  ${String(f.sendsMasterOnly).padStart(6)}`,
    );
  }
  lines.push('  medians by kind (producers / consumers / consumers on the hit group):');
  for (const [kind, k] of Object.entries(report.byKind)) {
    if (k.faults === 0) continue;
    lines.push(`    ${kind.padEnd(16)} ×${k.faults}${k.skipped > 0 ? ` (${k.skipped} skipped)` : ''}: ${ms(k.producerResumeMedianMs)} / ${ms(k.consumerResumeMedianMs)} / ${ms(k.consumerResumeTargetMedianMs)}`);
  }
  for (const note of report.notes) lines.push(`  note: ${note}`);
  lines.push('  checks:');
  for (const check of report.checks) lines.push(`    ${check.ok ? 'PASS' : 'FAIL'}  ${check.name} — ${check.detail}`);
  lines.push(`  ${report.passed ? 'PASSED' : 'FAILED'} (replay: npm run chaos -- --seed ${s.seed} --duration-s ${s.durationS} --kill-every-s ${s.killEveryS} --replication ${s.replication})`);
  return lines.join('\n');
}
