// The chaos run's bookkeeping (pure): every send with its outcome, every delivery to a consumer,
// and the verdicts drawn from them — acknowledged, lost, duplicated, out of order. Times are
// milliseconds since the workload started (an injected clock in the workload).

/**
 * OK: stored and (sync replication) on a slave. SLAVE_*: stored on the master only, not yet known
 * to be replicated. FLUSH_TIMEOUT: written, flush not confirmed. FAILED: the send threw after its
 * retries — not acknowledged; it may still have been stored (a timeout after the write).
 */
export type SendOutcome = 'OK' | 'SLAVE_TIMEOUT' | 'SLAVE_NOT_AVAILABLE' | 'FLUSH_TIMEOUT' | 'FAILED';

export interface SendRecord {
  readonly id: string;
  readonly producer: number;
  readonly seq: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly outcome: SendOutcome;
  /** FAILED: the error code's name. */
  readonly error?: string;
  readonly brokerName?: string;
  readonly queueId?: number;
  readonly queueOffset?: number;
}

export interface DeliveryRecord {
  readonly consumer: number;
  readonly id: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly atMs: number;
}

export interface QueueRange {
  readonly brokerName: string;
  readonly queueId: number;
  readonly minOffset: number;
  readonly maxOffset: number;
}

export interface Verdict {
  sends: number;
  /** Acknowledged with OK. */
  acknowledged: number;
  /** Acknowledged with SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE: stored on the master only. */
  acknowledgedMasterOnly: number;
  acknowledgedFlushTimeout: number;
  /** Sends that threw after their retries (not acknowledged). */
  failed: number;
  failedByError: Record<string, number>;
  /** Failed sends that were nevertheless delivered (stored before the error). */
  failedButDelivered: number;
  /** Distinct message ids delivered at least once. */
  consumed: number;
  deliveries: number;
  /** Acknowledged with OK and never delivered: must be 0. */
  lost: number;
  lostIds: string[];
  /** Acknowledged SLAVE_* / FLUSH_TIMEOUT and never delivered (reported apart: see docs/chaos.md). */
  lostMasterOnly: number;
  lostMasterOnlyIds: string[];
  /** Message ids delivered more than once, and how many deliveries beyond the first. */
  duplicatedIds: number;
  duplicateDeliveries: number;
  /** A few duplicated ids with every delivery: consumer, time, placement. */
  duplicateSamples: string[];
  /** Ids stored at two places (a retry that hopped broker groups after a timeout). */
  storedTwice: number;
  /** Deliveries whose id no send produced (must be 0). */
  unknownDeliveries: number;
  /** See orderViolations(). */
  orderViolations: number;
  orderViolationSamples: string[];
  /** Stored queue offsets (from the final queue ranges) that no consumer was ever given. */
  undeliveredOffsets: number;
  undeliveredSamples: string[];
}

/** Samples of ids/offsets kept in a verdict, so a report stays readable. */
const SAMPLES_MAX = 20;

export class Ledger {
  readonly sends: SendRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  /** Message id → first delivery time. */
  private readonly firstDelivery = new Map<string, number>();

  recordSend(record: SendRecord): void {
    this.sends.push(record);
  }

  recordDelivery(record: DeliveryRecord): void {
    this.deliveries.push(record);
    if (!this.firstDelivery.has(record.id)) this.firstDelivery.set(record.id, record.atMs);
  }

  firstDeliveredAtMs(id: string): number | undefined {
    return this.firstDelivery.get(id);
  }

  /** Stored (acknowledged in any way) ids not yet delivered. */
  undeliveredStoredCount(): number {
    let count = 0;
    for (const send of this.sends) if (send.outcome !== 'FAILED' && !this.firstDelivery.has(send.id)) count++;
    return count;
  }

  verdict(finalRanges: readonly QueueRange[] = []): Verdict {
    const sentIds = new Set<string>();
    const failedByError: Record<string, number> = {};
    let acknowledged = 0;
    let masterOnly = 0;
    let flushTimeout = 0;
    let failed = 0;
    let failedButDelivered = 0;
    const lostIds: string[] = [];
    const lostMasterOnlyIds: string[] = [];
    for (const send of this.sends) {
      sentIds.add(send.id);
      const delivered = this.firstDelivery.has(send.id);
      switch (send.outcome) {
        case 'OK':
          acknowledged++;
          if (!delivered) lostIds.push(send.id);
          break;
        case 'SLAVE_TIMEOUT':
        case 'SLAVE_NOT_AVAILABLE':
        case 'FLUSH_TIMEOUT':
          if (send.outcome === 'FLUSH_TIMEOUT') flushTimeout++;
          else masterOnly++;
          if (!delivered) lostMasterOnlyIds.push(send.id);
          break;
        case 'FAILED':
          failed++;
          failedByError[send.error ?? 'UNKNOWN'] = (failedByError[send.error ?? 'UNKNOWN'] ?? 0) + 1;
          if (delivered) failedButDelivered++;
          break;
        default: {
          const never: never = send.outcome;
          throw new Error(`unknown send outcome ${String(never)}`);
        }
      }
    }
    const deliveryCount = new Map<string, number>();
    const placements = new Map<string, Set<string>>();
    let unknownDeliveries = 0;
    for (const d of this.deliveries) {
      deliveryCount.set(d.id, (deliveryCount.get(d.id) ?? 0) + 1);
      if (!sentIds.has(d.id)) unknownDeliveries++;
      const place = `${d.brokerName}#${d.queueId}@${d.queueOffset}`;
      let set = placements.get(d.id);
      if (set === undefined) placements.set(d.id, (set = new Set()));
      set.add(place);
    }
    let duplicatedIds = 0;
    let duplicateDeliveries = 0;
    for (const count of deliveryCount.values()) {
      if (count > 1) {
        duplicatedIds++;
        duplicateDeliveries += count - 1;
      }
    }
    let storedTwice = 0;
    for (const set of placements.values()) if (set.size > 1) storedTwice++;
    const duplicateSamples: string[] = [];
    const sampled = new Map<string, string[]>();
    for (const d of this.deliveries) {
      if ((deliveryCount.get(d.id) ?? 0) < 2) continue;
      let list = sampled.get(d.id);
      if (list === undefined) {
        if (sampled.size >= SAMPLES_MAX) continue;
        sampled.set(d.id, (list = []));
      }
      list.push(`consumer ${d.consumer} at ${(d.atMs / 1000).toFixed(2)} s ${d.brokerName}#${d.queueId}@${d.queueOffset}`);
    }
    for (const [id, list] of sampled) duplicateSamples.push(`${id}: ${list.join(', ')}`);
    const order = orderViolations(this.deliveries);
    const undelivered = undeliveredOffsets(this.deliveries, finalRanges);
    return {
      sends: this.sends.length,
      acknowledged,
      acknowledgedMasterOnly: masterOnly,
      acknowledgedFlushTimeout: flushTimeout,
      failed,
      failedByError,
      failedButDelivered,
      consumed: deliveryCount.size,
      deliveries: this.deliveries.length,
      lost: lostIds.length,
      lostIds: lostIds.slice(0, SAMPLES_MAX),
      lostMasterOnly: lostMasterOnlyIds.length,
      lostMasterOnlyIds: lostMasterOnlyIds.slice(0, SAMPLES_MAX),
      duplicatedIds,
      duplicateDeliveries,
      duplicateSamples,
      storedTwice,
      unknownDeliveries,
      orderViolations: order.count,
      orderViolationSamples: order.samples,
      undeliveredOffsets: undelivered.count,
      undeliveredSamples: undelivered.samples,
    };
  }
}

/**
 * Order within a queue, per consumer: a consumer is given offset o of a queue after it was
 * already given a larger offset of that queue, and it had never been given o before — a message
 * skipped and delivered late. Re-deliveries (o given before: a queue handed back after a
 * rebalance restarts at its committed offset) are duplicates, not order violations.
 */
export function orderViolations(deliveries: readonly DeliveryRecord[]): { count: number; samples: string[] } {
  const seen = new Map<string, { max: number; offsets: Set<number> }>();
  let count = 0;
  const samples: string[] = [];
  for (const d of deliveries) {
    const key = `${d.consumer}|${d.brokerName}#${d.queueId}`;
    let state = seen.get(key);
    if (state === undefined) seen.set(key, (state = { max: -1, offsets: new Set() }));
    if (d.queueOffset < state.max && !state.offsets.has(d.queueOffset)) {
      count++;
      if (samples.length < SAMPLES_MAX) samples.push(`consumer ${d.consumer} got ${d.brokerName}#${d.queueId}@${d.queueOffset} after @${state.max}`);
    }
    state.offsets.add(d.queueOffset);
    if (d.queueOffset > state.max) state.max = d.queueOffset;
  }
  return { count, samples };
}

/** Queue offsets in the final ranges that no consumer was given. */
export function undeliveredOffsets(deliveries: readonly DeliveryRecord[], ranges: readonly QueueRange[]): { count: number; samples: string[] } {
  const delivered = new Map<string, Set<number>>();
  for (const d of deliveries) {
    const key = `${d.brokerName}#${d.queueId}`;
    let set = delivered.get(key);
    if (set === undefined) delivered.set(key, (set = new Set()));
    set.add(d.queueOffset);
  }
  let count = 0;
  const samples: string[] = [];
  for (const range of ranges) {
    const set = delivered.get(`${range.brokerName}#${range.queueId}`);
    for (let offset = range.minOffset; offset < range.maxOffset; offset++) {
      if (set?.has(offset)) continue;
      count++;
      if (samples.length < SAMPLES_MAX) samples.push(`${range.brokerName}#${range.queueId}@${offset}`);
    }
  }
  return { count, samples };
}
