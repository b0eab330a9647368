// Recovery times per fault (pure): how long after a fault the producers were sending normally
// again, and how long until the consumers had delivered what was acknowledged before it. Times
// are milliseconds since the workload started. Definitions are in docs/chaos.md.
import type { FaultKind } from './schedule.js';
import type { SendRecord } from './ledger.js';

/** A send answered (stored, any status) within this long counts as normal. */
export const HEALTHY_LATENCY_MS = 1_000;
/** Producers have resumed once every send they start for this long is normal. */
export const HEALTHY_SPAN_MS = 2_000;

export interface ExecutedFault {
  readonly index: number;
  readonly kind: FaultKind;
  readonly target: string;
  /** Broker group the fault hit (for process faults on brokers and link cuts), else undefined. */
  readonly brokerName: string | undefined;
  readonly injectedAtMs: number;
  /** When the process was ready again / resumed / the link healed; undefined if never. */
  readonly healedAtMs: number | undefined;
  /** Why it was skipped, if it was (e.g. the link cut is not available). */
  readonly skipped?: string;
}

export interface RetrySample {
  readonly atMs: number;
  /** Sum of every producer's retry counter at that time. */
  readonly total: number;
}

export interface FaultRecovery {
  readonly index: number;
  readonly kind: FaultKind;
  readonly target: string;
  readonly injectedAtMs: number;
  readonly healedAtMs: number | null;
  readonly skipped: string | null;
  /** Max over producers; null if some producer did not resume before the next fault. */
  readonly producerResumeMs: number | null;
  /** Until every message acknowledged OK before the fault and not yet delivered was delivered. */
  readonly consumerResumeMs: number | null;
  /** The same, for such messages stored on the broker group the fault hit. */
  readonly consumerResumeTargetMs: number | null;
  readonly backlog: number;
  readonly backlogOnTarget: number;
  /** Producer retries between the fault and the next one, and when the last happened (since the fault). */
  readonly retries: number;
  readonly lastRetryMs: number | null;
  /** Sends started in the window that failed, or were stored on the master only. */
  readonly sendsFailed: number;
  readonly sendsMasterOnly: number;
}

function isHealthy(send: SendRecord): boolean {
  return send.outcome !== 'FAILED' && send.endedAtMs - send.startedAtMs <= HEALTHY_LATENCY_MS;
}

/**
 * One producer's resume time after a fault at `t0`: the first send started in [t0, end) such that
 * every send it started in the next HEALTHY_SPAN_MS was normal; the time from t0 to that send's
 * answer. Null when no such send exists before `end`.
 */
export function producerResumeMs(sends: readonly SendRecord[], t0: number, end: number): number | null {
  const window = sends.filter((s) => s.startedAtMs >= t0 && s.startedAtMs < end).sort((a, b) => a.startedAtMs - b.startedAtMs);
  // nextBad[i]: index of the first unhealthy send at or after i (window.length if none).
  const nextBad = new Array<number>(window.length + 1).fill(window.length);
  for (let i = window.length - 1; i >= 0; i--) nextBad[i] = isHealthy(window[i] as SendRecord) ? (nextBad[i + 1] as number) : i;
  for (let i = 0; i < window.length; i++) {
    const start = window[i] as SendRecord;
    if (start.startedAtMs + HEALTHY_SPAN_MS > end) break;
    const bad = nextBad[i] as number;
    if (bad === window.length || (window[bad] as SendRecord).startedAtMs >= start.startedAtMs + HEALTHY_SPAN_MS) {
      return Math.max(0, start.endedAtMs - t0);
    }
  }
  return null;
}

/**
 * Time from `t0` until every message acknowledged OK before t0 and not delivered by t0 was
 * delivered (0 when there was none; null if one never was). `onlyBroker` restricts it to
 * messages stored on one broker group.
 */
export function consumerResumeMs(
  sends: readonly SendRecord[],
  firstDeliveredAtMs: (id: string) => number | undefined,
  t0: number,
  onlyBroker?: string,
): { resumeMs: number | null; backlog: number } {
  let latest = t0;
  let backlog = 0;
  let missing = false;
  for (const send of sends) {
    if (send.outcome !== 'OK' || send.endedAtMs >= t0) continue;
    if (onlyBroker !== undefined && send.brokerName !== onlyBroker) continue;
    const delivered = firstDeliveredAtMs(send.id);
    if (delivered !== undefined && delivered <= t0) continue;
    backlog++;
    if (delivered === undefined) missing = true;
    else if (delivered > latest) latest = delivered;
  }
  return { resumeMs: missing ? null : latest - t0, backlog };
}

export function faultRecoveries(input: {
  faults: readonly ExecutedFault[];
  sends: readonly SendRecord[];
  producers: number;
  firstDeliveredAtMs: (id: string) => number | undefined;
  retrySamples: readonly RetrySample[];
  /** When the producers stopped: the last fault's window ends here. */
  endMs: number;
}): FaultRecovery[] {
  const byProducer = new Map<number, SendRecord[]>();
  for (const send of input.sends) {
    let list = byProducer.get(send.producer);
    if (list === undefined) byProducer.set(send.producer, (list = []));
    list.push(send);
  }
  const active = input.faults.filter((f) => f.skipped === undefined);
  return input.faults.map((fault) => {
    const t0 = fault.injectedAtMs;
    const next = active.find((f) => f.injectedAtMs > t0);
    const end = Math.min(next?.injectedAtMs ?? input.endMs, input.endMs);
    let producerResume: number | null = 0;
    for (let p = 0; p < input.producers; p++) {
      const resume = producerResumeMs(byProducer.get(p) ?? [], t0, end);
      producerResume = resume === null || producerResume === null ? null : Math.max(producerResume, resume);
    }
    const all = consumerResumeMs(input.sends, input.firstDeliveredAtMs, t0);
    const target = fault.brokerName === undefined ? { resumeMs: null, backlog: 0 } : consumerResumeMs(input.sends, input.firstDeliveredAtMs, t0, fault.brokerName);
    const inWindow = input.retrySamples.filter((s) => s.atMs >= t0 && s.atMs < end);
    const before = [...input.retrySamples].reverse().find((s) => s.atMs < t0)?.total ?? 0;
    let lastRetryMs: number | null = null;
    let previous = before;
    for (const sample of inWindow) {
      if (sample.total > previous) lastRetryMs = sample.atMs - t0;
      previous = sample.total;
    }
    const windowSends = input.sends.filter((s) => s.startedAtMs >= t0 && s.startedAtMs < end);
    return {
      index: fault.index,
      kind: fault.kind,
      target: fault.target,
      injectedAtMs: t0,
      healedAtMs: fault.healedAtMs ?? null,
      skipped: fault.skipped ?? null,
      producerResumeMs: fault.skipped === undefined ? producerResume : null,
      consumerResumeMs: fault.skipped === undefined ? all.resumeMs : null,
      consumerResumeTargetMs: fault.skipped === undefined && fault.brokerName !== undefined ? target.resumeMs : null,
      backlog: all.backlog,
      backlogOnTarget: target.backlog,
      retries: previous - before,
      lastRetryMs,
      sendsFailed: windowSends.filter((s) => s.outcome === 'FAILED').length,
      sendsMasterOnly: windowSends.filter((s) => s.outcome === 'SLAVE_TIMEOUT' || s.outcome === 'SLAVE_NOT_AVAILABLE').length,
    };
  });
}

/** Median of the non-null values (undefined when there are none). */
export function median(values: readonly (number | null)[]): number | undefined {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
