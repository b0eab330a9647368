// Send, the producer-facing front: one batch for one (topic, queue). Validated whole at the edge
// before anything changes (system topics refused: ACCESS_DENIED), de-duplicated by message id,
// appended in one call of the Appender (broker/append/appender.ts, the broker's one write path),
// answered with one result per message in request order, counted in the send metrics.
//
// De-duplication (docs/broker.md "De-duplication"): a message whose id was stored within
// dedupWindowMs (by store timestamp) is not stored again; its result is the original one with
// duplicate=true. Ids are checked, in order, against earlier messages of the same batch, the
// in-memory window, sends of the same id still in flight, and, only where the id could be there
// (records from before the start still inside the window, a hit in the filter of ids evicted
// from memory, or a generator id inside a remembered run: DedupWindow.needsStoreLookup), the
// store's message-id index.
//
// Generator-format ids (common/message-id.ts) in runs of consecutive counters (id-runs.ts) are
// checked and remembered per run, in flight and in the window: a fresh batch of one producer
// costs a few range checks and a parse per id instead of map operations per id.
//
// Sync replication (docs/replication.md "Modes"): after the append and after remembering the ids,
// the Appender's `replicated` waits until a slave has flushed the batch; the wait's code (OK,
// SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE) is every result's status. The non-OK codes still mean
// "stored on the master".
import type * as grpc from '@grpc/grpc-js';
import { ConveyorError, ErrorCode, unreachable } from '../../common/errors.js';
import { decodeRecordIndexFields, type RecordMessage } from '../../common/record.js';
import { conveyor } from '../../proto/index.js';
import type { StoredResult } from '../dedup/dedup-window.js';
import { generatorCounter, generatorInstance } from '../../common/message-id.js';
import { runIndexOf, runsIntersect, runsOverlap, splitIntoRuns, type BatchRuns } from '../dedup/id-runs.js';
import type { AppendResult } from '../store/index.js';
import { isWritable, toRecordMessages, validateQueueId, validateSendBatch } from '../validate.js';
import type { ReplicationWaitCode } from '../replication/index.js';
import type { ServiceContext } from './context.js';

export { SYNC_WAIT_DEADLINE_MARGIN_MS } from '../append/appender.js';

type Outcome =
  | { kind: 'stored'; result: StoredResult }
  | { kind: 'duplicate'; result: StoredResult }
  | { kind: 'pending'; promise: Promise<StoredResult> }
  | { kind: 'repeat'; of: number }
  | { kind: 'candidate' };

interface Deferred {
  promise: Promise<StoredResult>;
  resolve: (result: StoredResult) => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: (result: StoredResult) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<StoredResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The failure reaches the send that owns it; repeats waiting on it see it too. Never unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * The ids of one fast-path send while it is being stored: one promise for the whole batch instead
 * of one per message. A concurrent send of one of its ids (rare) asks `resultOf`, which waits for
 * the batch and finds the id's result by a scan.
 */
class PendingBatch {
  private results: readonly StoredResult[] | undefined;
  private failure: { err: unknown } | undefined;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly messages: readonly RecordMessage[],
    /** The batch's ids split into runs (claimed as runs) and singles (claimed one by one in `inFlight`). */
    readonly split: BatchRuns,
  ) {}

  /** Whether one of this batch's runs holds exactly `id` (of generator `instance`, `counter`). */
  holdsInRun(id: string, instance: number, counter: number): boolean {
    const index = runIndexOf(this.split, instance, counter);
    return index >= 0 && this.messages[index]?.messageId === id;
  }

  settle(results: readonly StoredResult[] | undefined, failure?: { err: unknown }): void {
    this.results = results;
    this.failure = failure;
    for (const wake of this.waiters) wake();
    this.waiters.length = 0;
  }

  async resultOf(id: string): Promise<StoredResult> {
    if (this.results === undefined && this.failure === undefined) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure !== undefined) throw this.failure.err;
    const index = this.messages.findIndex((m) => m.messageId === id);
    const result = index < 0 ? undefined : this.results?.[index];
    if (result === undefined) throw new Error(`assertion failed: id ${id} is not in the pending batch it was registered for`);
    return result;
  }
}

/** What `inFlight` holds for an id: the slow path's per-message promise or a fast-path batch. */
type InFlightEntry = Promise<StoredResult> | PendingBatch;

function waitFor(entry: InFlightEntry, id: string): Promise<StoredResult> {
  return entry instanceof PendingBatch ? entry.resultOf(id) : entry;
}

/**
 * The commit-log offset a slave must have flushed for every message of the answer to be on it:
 * the end of each record stored by this call (physicalOffset + size) and, for a duplicate (whose
 * size is not remembered), one past its first byte (slaves acknowledge whole records only).
 */
function replicationEnd(resolved: ReadonlyArray<{ result: StoredResult }>, sizeByIndex: ReadonlyMap<number, number>): number {
  let end = 0;
  resolved.forEach(({ result }, i) => {
    end = Math.max(end, result.physicalOffset + (sizeByIndex.get(i) ?? 1));
  });
  return end;
}

/** The largest step between two physical offsets a StoredBatch carries (uint32 on the wire). */
const PHYSICAL_OFFSET_DELTA_MAX = 0xffff_ffff;

/**
 * The compact answer (StoredBatch) for a batch this send stored: contiguous queue offsets, one
 * store timestamp, physical offsets as steps. undefined if the results do not have that shape
 * (then the answer is one SendResult per message).
 */
export function storedBatch(appended: readonly AppendResult[], status: ReplicationWaitCode, brokerName: string): conveyor.IStoredBatch | undefined {
  const first = appended[0];
  if (first === undefined) return undefined;
  const deltas = new Array<number>(appended.length);
  deltas[0] = 0;
  for (let i = 1; i < appended.length; i++) {
    const a = appended[i]!;
    const delta = a.physicalOffset - appended[i - 1]!.physicalOffset;
    if (a.queueId !== first.queueId || a.queueOffset !== first.queueOffset + i || a.storeTimestampMs !== first.storeTimestampMs || delta <= 0 || delta > PHYSICAL_OFFSET_DELTA_MAX) return undefined;
    deltas[i] = delta;
  }
  return {
    status,
    brokerName,
    queueId: first.queueId,
    firstQueueOffset: first.queueOffset,
    firstPhysicalOffset: first.physicalOffset,
    physicalOffsetDeltas: deltas,
    storeTimestampMs: first.storeTimestampMs,
  };
}

export class SendService {
  /** Ids being stored right now, one by one: a concurrent repeat waits for the original's result. */
  private readonly inFlight = new Map<string, InFlightEntry>();
  /** Fast-path batches being stored that claimed runs of generator ids (their other ids are in `inFlight`). */
  private readonly runsInFlight = new Set<PendingBatch>();

  constructor(private readonly ctx: ServiceContext) {}

  async send(request: conveyor.SendRequest, call?: grpc.ServerUnaryCall<conveyor.SendRequest, conveyor.ISendResponse>): Promise<conveyor.ISendResponse> {
    const { ctx } = this;
    ctx.appender.requireMaster();
    const messages = toRecordMessages(request.messages);
    const sizes = validateSendBatch(request.topic, request.producerGroup, messages);
    const topic = await ctx.topics.forSend(request.topic);
    if (!isWritable(topic.perm)) {
      throw new ConveyorError(ErrorCode.TOPIC_NOT_WRITABLE, `topic '${topic.topicName}' is not writable on broker ${ctx.identity.brokerName} (perm ${topic.perm})`, { topic: topic.topicName, perm: topic.perm });
    }
    validateQueueId(topic.topicName, request.queueId, topic.writeQueueCount, 'write');

    const now = ctx.clock();
    const fresh = this.claimFresh(messages, now);
    if (fresh !== undefined) return this.storeFresh(topic.topicName, request.queueId, messages, sizes, fresh, request.acceptsStoredBatch, call);
    return this.sendWithDuplicates(topic.topicName, request, messages, sizes, now, call);
  }

  /**
   * The common case, checked before anything is stored: every id is new to this batch, to the
   * window and to the sends in flight, and none needs a store lookup. Runs of generator ids are
   * checked and claimed per run, the other ids one by one under one PendingBatch; otherwise
   * claims nothing and returns undefined.
   */
  private claimFresh(messages: readonly RecordMessage[], now: number): PendingBatch | undefined {
    const { dedup } = this.ctx;
    const split = splitIntoRuns(messages);
    if (runsOverlap(split)) return undefined;
    const { instances, firsts, lasts, starts, ends, singles } = split;
    for (let r = 0; r < instances.length; r++) {
      const instance = instances[r]!;
      const first = firsts[r]!;
      const last = lasts[r]!;
      if (dedup.runMayRepeat(instance, first, last, now) || this.runInFlight(instance, first, last)) return undefined;
      const checkInFlight = this.inFlight.size > 0;
      for (let i = starts[r]!; i < ends[r]!; i++) {
        const id = messages[i]!.messageId;
        if ((checkInFlight && this.inFlight.has(id)) || dedup.mayHoldGeneratorId(id, now)) return undefined;
      }
    }
    const batch = new PendingBatch(messages, split);
    const lookups = singles.length > 0 && dedup.needsStoreLookup(now);
    for (let k = 0; k < singles.length; k++) {
      const id = messages[singles[k]!]!.messageId;
      // inFlight also holds the singles claimed earlier in this loop: a repeat inside the batch lands here.
      if (this.inFlight.has(id) || dedup.get(id, now) !== undefined || (lookups && dedup.needsStoreLookup(now, id)) || this.inAnyRun(id, split)) {
        for (let j = 0; j < k; j++) this.inFlight.delete(messages[singles[j]!]!.messageId);
        return undefined;
      }
      this.inFlight.set(id, batch);
    }
    if (instances.length > 0) this.runsInFlight.add(batch);
    return batch;
  }

  /** Whether a run being stored by another send shares a counter with first..last of `instance`. */
  private runInFlight(instance: number, first: number, last: number): boolean {
    for (const pending of this.runsInFlight) if (runsIntersect(pending.split, instance, first, last)) return true;
    return false;
  }

  /** Whether a generator id (not in a run of its own batch) may be in a run of `split` or of a send in flight. */
  private inAnyRun(id: string, split: BatchRuns): boolean {
    if (split.instances.length === 0 && this.runsInFlight.size === 0) return false;
    const instance = generatorInstance(id);
    if (instance < 0) return false;
    const counter = generatorCounter(id);
    return runIndexOf(split, instance, counter) >= 0 || this.runInFlight(instance, counter, counter);
  }

  /** The fast-path batch in flight whose runs hold exactly `id`, if any. */
  private pendingRunHolding(id: string): PendingBatch | undefined {
    if (this.runsInFlight.size === 0) return undefined;
    const instance = generatorInstance(id);
    if (instance < 0) return undefined;
    const counter = generatorCounter(id);
    for (const pending of this.runsInFlight) if (pending.holdsInRun(id, instance, counter)) return pending;
    return undefined;
  }

  /** Remembers stored messages in the window: runs of generator ids per run, the rest one by one (or joining their producer's run). */
  private remember(topic: string, appended: readonly AppendResult[], split: BatchRuns, storedAt: number): void {
    const { dedup } = this.ctx;
    for (let r = 0; r < split.instances.length; r++) {
      let oldest = Number.POSITIVE_INFINITY;
      let newest = Number.NEGATIVE_INFINITY;
      for (let i = split.starts[r]!; i < split.ends[r]!; i++) {
        const at = appended[i]!.storeTimestampMs;
        if (at < oldest) oldest = at;
        if (at > newest) newest = at;
      }
      dedup.putRun(split.instances[r]!, split.firsts[r]!, split.lasts[r]!, topic, oldest, newest, storedAt);
    }
    for (let k = 0; k < split.singles.length; k++) dedup.putSingle(appended[split.singles[k]!]!, storedAt);
  }

  /** Appends a batch of fresh ids (claimFresh): plain loops, one promise for the batch, no per-message bookkeeping. */
  private async storeFresh(topic: string, queueId: number, messages: RecordMessage[], sizes: readonly number[], batch: PendingBatch, compact: boolean, call: grpc.ServerUnaryCall<conveyor.SendRequest, conveyor.ISendResponse> | undefined): Promise<conveyor.ISendResponse> {
    const { ctx } = this;
    let appended: AppendResult[];
    let end = 0;
    try {
      appended = await ctx.appender.append(topic, queueId, messages, sizes);
      if (appended.length !== messages.length) throw new Error(`assertion failed: store returned ${appended.length} results for ${messages.length} messages`);
      let bytes = 0;
      for (let i = 0; i < appended.length; i++) {
        const a = appended[i]!;
        bytes += a.size;
        end = Math.max(end, a.physicalOffset + a.size);
      }
      this.remember(topic, appended, batch.split, ctx.clock());
      batch.settle(appended);
      ctx.metrics.messagesIn.inc({ topic }, appended.length);
      ctx.metrics.bytesIn.inc({ topic }, bytes);
    } catch (err) {
      batch.settle(undefined, { err });
      throw err;
    } finally {
      const singles = batch.split.singles;
      for (let k = 0; k < singles.length; k++) this.inFlight.delete(messages[singles[k]!]!.messageId);
      this.runsInFlight.delete(batch);
    }
    const status = await ctx.appender.replicated(end, call);
    const brokerName = ctx.identity.brokerName;
    const stored = compact ? storedBatch(appended, status, brokerName) : undefined;
    if (stored !== undefined) return { stored };
    const results = new Array<conveyor.ISendResult>(appended.length);
    for (let i = 0; i < appended.length; i++) {
      const a = appended[i]!;
      results[i] = { messageId: a.messageId, status, brokerName, queueId: a.queueId, queueOffset: a.queueOffset, physicalOffset: a.physicalOffset, storeTimestampMs: a.storeTimestampMs, duplicate: false };
    }
    return { results };
  }

  /**
   * The general case: some ids repeat inside the batch, are in the window, are being stored by
   * another send, or need a store lookup. Classifies synchronously, then owns every candidate id
   * before the first await, so a concurrent send of the same id waits for this one instead of
   * storing it too.
   */
  private async sendWithDuplicates(topicName: string, request: conveyor.SendRequest, messages: RecordMessage[], sizes: readonly number[], now: number, call: grpc.ServerUnaryCall<conveyor.SendRequest, conveyor.ISendResponse> | undefined): Promise<conveyor.ISendResponse> {
    const { ctx } = this;
    const outcomes: Outcome[] = [];
    const firstIndexById = new Map<string, number>();
    for (let i = 0; i < messages.length; i++) {
      const id = messages[i]!.messageId;
      const first = firstIndexById.get(id);
      if (first !== undefined) {
        outcomes.push({ kind: 'repeat', of: first });
        continue;
      }
      firstIndexById.set(id, i);
      const remembered = ctx.dedup.get(id, now);
      const pending = remembered === undefined ? (this.inFlight.get(id) ?? this.pendingRunHolding(id)) : undefined;
      outcomes.push(remembered !== undefined ? { kind: 'duplicate', result: remembered } : pending !== undefined ? { kind: 'pending', promise: waitFor(pending, id) } : { kind: 'candidate' });
    }
    const owned = new Map<number, Deferred>();
    for (let i = 0; i < outcomes.length; i++) {
      if (outcomes[i]!.kind !== 'candidate') continue;
      const d = deferred();
      owned.set(i, d);
      this.inFlight.set(messages[i]!.messageId, d.promise);
    }

    /** Record size of each message stored by this call (by request index): the end a slave must reach. */
    const sizeByIndex = new Map<number, number>();
    try {
      if (owned.size > 0 && ctx.dedup.needsStoreLookup(now)) await this.confirmWithStore(request.topic, messages.map((m) => m.messageId), owned, outcomes, now);
      const fresh = [...owned.keys()].filter((i) => outcomes[i]!.kind === 'candidate');
      if (fresh.length > 0) {
        const appended = await ctx.appender.append(topicName, request.queueId, fresh.map((i) => messages[i]!), fresh.map((i) => sizes[i]!));
        if (appended.length !== fresh.length) throw new Error(`assertion failed: store returned ${appended.length} results for ${fresh.length} messages`);
        this.remember(topicName, appended, splitIntoRuns(appended), ctx.clock());
        let bytes = 0;
        fresh.forEach((i, k) => {
          const a = appended[k]!;
          outcomes[i] = { kind: 'stored', result: a };
          sizeByIndex.set(i, a.size);
          bytes += a.size;
        });
        ctx.metrics.messagesIn.inc({ topic: topicName }, fresh.length);
        ctx.metrics.bytesIn.inc({ topic: topicName }, bytes);
      }
      for (const [i, d] of owned) {
        const outcome = outcomes[i]!;
        if (outcome.kind !== 'stored' && outcome.kind !== 'duplicate') throw new Error(`assertion failed: owned message ${i} ended as ${outcome.kind}`);
        d.resolve(outcome.result);
      }
    } catch (err) {
      for (const d of owned.values()) d.reject(err);
      throw err;
    } finally {
      for (const i of owned.keys()) this.inFlight.delete(messages[i]!.messageId);
    }

    const resolved: Array<{ result: StoredResult; duplicate: boolean }> = [];
    for (let i = 0; i < outcomes.length; i++) resolved.push(await this.resolve(outcomes, i));
    const status = await ctx.appender.replicated(replicationEnd(resolved, sizeByIndex), call);
    const results: conveyor.ISendResult[] = [];
    let duplicates = 0;
    for (let i = 0; i < outcomes.length; i++) {
      const { result, duplicate } = resolved[i]!;
      if (duplicate) duplicates++;
      results.push({
        messageId: messages[i]!.messageId,
        status,
        brokerName: ctx.identity.brokerName,
        queueId: result.queueId,
        queueOffset: result.queueOffset,
        physicalOffset: result.physicalOffset,
        storeTimestampMs: result.storeTimestampMs,
        duplicate,
      });
    }
    if (duplicates > 0) ctx.metrics.duplicates.inc({ topic: topicName }, duplicates);
    return { results };
  }

  private async resolve(outcomes: readonly Outcome[], i: number): Promise<{ result: StoredResult; duplicate: boolean }> {
    const outcome = outcomes[i]!;
    switch (outcome.kind) {
      case 'stored':
        return { result: outcome.result, duplicate: false };
      case 'duplicate':
        return { result: outcome.result, duplicate: true };
      case 'pending':
        return { result: await outcome.promise, duplicate: true };
      case 'repeat':
        return { result: (await this.resolve(outcomes, outcome.of)).result, duplicate: true };
      case 'candidate':
        throw new Error(`assertion failed: message ${i} was neither stored nor found`);
      default:
        return unreachable(outcome);
    }
  }

  /** Looks owned ids that may be there up in the store's index; ids stored within the window become duplicates. */
  private async confirmWithStore(topic: string, ids: readonly string[], owned: ReadonlyMap<number, Deferred>, outcomes: Outcome[], now: number): Promise<void> {
    const { ctx } = this;
    const toLookUp = [...owned.keys()].filter((i) => ctx.dedup.needsStoreLookup(now, ids[i]!));
    await Promise.all(
      toLookUp.map(async (i) => {
        const id = ids[i]!;
        const record = await ctx.store.lookupById(id);
        if (record === null || record === undefined) return;
        const fields = decodeRecordIndexFields(record);
        if (fields.messageId !== id || !ctx.dedup.isWithinWindow(fields.storeTimestampMs, now)) return;
        const result: StoredResult = { messageId: id, topic: fields.topic, queueId: fields.queueId, queueOffset: fields.queueOffset, physicalOffset: fields.physicalOffset, storeTimestampMs: fields.storeTimestampMs };
        ctx.dedup.put(result, now);
        outcomes[i] = { kind: 'duplicate', result };
        ctx.log.debug({ messageId: id, topic, originalTopic: fields.topic }, 'duplicate found in store index');
      }),
    );
  }
}
