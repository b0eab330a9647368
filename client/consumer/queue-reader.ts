// Reading one queue: pull (long poll), queue range, offset for a timestamp. Reads go to the
// broker group's master first and, when it does not answer, to its slaves (DESIGN.md §6: consumers
// go on reading from a slave when the master is gone); brokers that recently failed are tried
// last, and a held pull gives up on a broker that leaves the route. Shared by consumers and admin.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { ClientMethod } from '../../common/grpc.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import type { ClientContext } from '../client-context.js';
import { messagesFromRecords, type Message } from '../message.js';
import { codeOf, isUnreachable, refreshesRoute } from '../retry-policy.js';
import { betterBrokerListed, brokerOrder, isListed, type BrokerCandidate } from '../routing/read-target.js';
import type { MessageQueue } from '../routing/route.js';

/** Long-poll hold asked of the broker when a queue has nothing new (the broker caps it too). */
export const PULL_LONG_POLL_MS_DEFAULT = 15_000;
/** Extra deadline on top of the long-poll hold: the answer's own time on the wire. */
export const PULL_DEADLINE_MARGIN_MS = 5_000;
/** Bytes one pull answer may carry (at least one record is always returned). */
export const PULL_MAX_BYTES_DEFAULT = 8 * 1024 * 1024;
/** Messages one pull may ask for. */
export const PULL_MAX_COUNT_MAX = 1_024;

export type PullStatus = 'FOUND' | 'NO_NEW_MESSAGE' | 'NO_MATCHED_MESSAGE';

export interface PullResult {
  readonly status: PullStatus;
  readonly messages: Message[];
  /** Where the next pull starts. */
  readonly nextOffset: number;
  /** The queue's lowest stored offset. */
  readonly minOffset: number;
  /** One past the queue's last stored offset. */
  readonly maxOffset: number;
  /** Who answered: 0 the master, >= 1 a slave. */
  readonly brokerId: number;
}

interface PullRequestOptions {
  group: string;
  maxCount: number;
  maxBytes?: number;
  tagExpression?: string;
  /** Long-poll hold; 0 answers at once. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/**
 * While a long-poll pull is held at one broker, how often the client checks that the broker is
 * still in the route and not suspected dead (a frozen master holds the pull until its deadline
 * otherwise). Checking is a map lookup; this bounds how late a pull moves to the slave.
 */
export const PULL_WATCH_INTERVAL_MS = 500;

interface GroupCallOptions {
  deadlineMs: number;
  signal?: AbortSignal;
  /**
   * Long calls (held pulls): give up on a broker that leaves the route or becomes suspected while
   * the call waits, and go on with the next broker of the group.
   */
  watch?: boolean;
}

/** A group call's answer and who gave it. */
interface GroupAnswer<Res> {
  readonly value: Res;
  readonly address: string;
  readonly brokerId: number;
}

/**
 * Calls `method` on the queue's broker group: the master first, then slaves by id, brokers
 * suspected dead last (read-target.ts); the next broker is tried only after an unreachable
 * error. An error with a meaning is thrown at once, with `brokerId` and `address` added to its
 * fields (an OFFSET_OUT_OF_RANGE from a slave means something else than from the master).
 */
async function callBrokerGroupAt<Req, Res>(
  context: ClientContext,
  queue: MessageQueue,
  method: ClientMethod<Req, Res>,
  request: Req,
  options: GroupCallOptions,
): Promise<GroupAnswer<Res>> {
  const route = await context.routes.get(queue.topic);
  const candidates = brokerOrder(route, queue.brokerName, (address) => context.suspicion.isSuspect(address));
  if (candidates.length === 0) {
    context.routes.refreshSoon(queue.topic);
    throw new ConveyorError(ErrorCode.NO_ROUTE, `no live broker of group '${queue.brokerName}' serves topic '${queue.topic}'`, { topic: queue.topic, broker: queue.brokerName });
  }
  let last: unknown;
  for (const { address, brokerId } of candidates) {
    const watched = options.watch ? watchBroker(context, queue, { address, brokerId }, options.signal) : undefined;
    try {
      const value = await context.connections.call(address, method, request, { deadlineMs: options.deadlineMs, signal: watched?.signal ?? options.signal });
      return { value, address, brokerId };
    } catch (err) {
      if (options.signal?.aborted) throw err;
      if (watched?.abandoned()) {
        // The broker left the route or stopped answering others while this call waited, or the
        // master is back: start over with the group's current order.
        return callBrokerGroupAt(context, queue, method, request, { ...options, watch: true });
      }
      const code = codeOf(err);
      if (refreshesRoute(code)) context.routes.refreshSoon(queue.topic);
      if (!isUnreachable(code)) throw withBroker(err, address, brokerId);
      last = err;
    } finally {
      watched?.stop();
    }
  }
  throw last;
}

/** callBrokerGroupAt without who answered. */
async function callBrokerGroup<Req, Res>(
  context: ClientContext,
  queue: MessageQueue,
  method: ClientMethod<Req, Res>,
  request: Req,
  options: GroupCallOptions,
): Promise<Res> {
  return (await callBrokerGroupAt(context, queue, method, request, options)).value;
}

/**
 * A child abort signal that fires when the broker leaves the route or becomes suspected, or — for
 * a slave — when the group's master is listed again and not suspected (consumption moves back).
 */
function watchBroker(context: ClientContext, queue: MessageQueue, target: BrokerCandidate, parent: AbortSignal | undefined): { signal: AbortSignal; abandoned: () => boolean; stop: () => void } {
  const controller = new AbortController();
  let gaveUp = false;
  const onParentAbort = (): void => controller.abort();
  parent?.addEventListener('abort', onParentAbort, { once: true });
  if (parent?.aborted) controller.abort();
  const timer = setInterval(() => {
    if (stillTheBrokerToRead(context, queue, target)) return;
    gaveUp = true;
    controller.abort();
  }, PULL_WATCH_INTERVAL_MS);
  timer.unref();
  return {
    signal: controller.signal,
    abandoned: () => gaveUp && !(parent?.aborted ?? false),
    stop: () => {
      clearInterval(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

/**
 * True while `target` is the broker a long read of `queue` should stay at: still in the route,
 * not suspected dead, and (for a slave) the group's master not back. A map lookup or two.
 */
export function stillTheBrokerToRead(context: ClientContext, queue: MessageQueue, target: BrokerCandidate): boolean {
  const route = context.routes.peek(queue.topic);
  const suspect = (a: string): boolean => context.suspicion.isSuspect(a);
  return isListed(route, queue.brokerName, target.address) && !suspect(target.address) && (route === undefined || !betterBrokerListed(route, queue.brokerName, target, suspect));
}

/** The same error with the answering broker added to its fields. */
export function withBroker(err: unknown, address: string, brokerId: number): unknown {
  if (!(err instanceof ConveyorError)) return err;
  return new ConveyorError(err.code, err.message, { ...err.fields, brokerId, address }, { cause: err });
}

export async function pullQueue(context: ClientContext, queue: MessageQueue, offset: number, options: PullRequestOptions): Promise<PullResult> {
  const maxCount = Math.min(Math.max(1, Math.floor(options.maxCount)), PULL_MAX_COUNT_MAX);
  const maxWaitMs = options.maxWaitMs ?? 0;
  const answer = await callBrokerGroupAt(
    context,
    queue,
    BrokerService.pull,
    {
      consumerGroup: options.group,
      topic: queue.topic,
      queueId: queue.queueId,
      queueOffset: offset,
      maxCount,
      maxBytes: options.maxBytes ?? PULL_MAX_BYTES_DEFAULT,
      tagExpression: options.tagExpression ?? '*',
      maxWaitMs,
    },
    { deadlineMs: maxWaitMs + PULL_DEADLINE_MARGIN_MS, signal: options.signal, watch: maxWaitMs > 0 },
  );
  return pullResultOf(answer.value, queue);
}

/** A pull answer (or a subscription's) as the consumer sees it: the messages decoded from the stored records. */
export function pullResultOf(response: conveyor.PullResponse, queue: MessageQueue): PullResult {
  const status = pullStatus(response.status);
  const messages = status === 'FOUND' ? messagesFromRecords(response.records, response.brokerName || queue.brokerName) : [];
  return {
    status,
    messages,
    nextOffset: Number(response.nextQueueOffset),
    minOffset: Number(response.minQueueOffset),
    maxOffset: Number(response.maxQueueOffset),
    brokerId: Number(response.brokerId),
  };
}

function pullStatus(status: conveyor.PullStatus): PullStatus {
  switch (status) {
    case conveyor.PullStatus.PULL_FOUND: return 'FOUND';
    case conveyor.PullStatus.PULL_NO_NEW_MESSAGE: return 'NO_NEW_MESSAGE';
    case conveyor.PullStatus.PULL_NO_MATCHED_MESSAGE: return 'NO_MATCHED_MESSAGE';
    default: return 'NO_NEW_MESSAGE';
  }
}

/** [minOffset, maxOffset) of a queue. */
export async function queueRange(context: ClientContext, queue: MessageQueue): Promise<{ minOffset: number; maxOffset: number }> {
  const answer = await callBrokerGroup(context, queue, BrokerService.getQueueRange, { topic: queue.topic, queueId: queue.queueId }, { deadlineMs: context.requestTimeoutMs });
  return { minOffset: Number(answer.minQueueOffset), maxOffset: Number(answer.maxQueueOffset) };
}

/** The first offset stored at or after `timestampMs`. */
export async function searchOffset(context: ClientContext, queue: MessageQueue, timestampMs: number): Promise<number> {
  const answer = await callBrokerGroup(context, queue, BrokerService.searchOffset, { topic: queue.topic, queueId: queue.queueId, timestampMs }, { deadlineMs: context.requestTimeoutMs });
  return Number(answer.queueOffset);
}

/**
 * Where to go on after OFFSET_OUT_OF_RANGE: the nearest end of the valid range the broker sent
 * (fields minOffset / maxOffset), or asked for with GetQueueRange.
 */
export async function offsetAfterOutOfRange(context: ClientContext, queue: MessageQueue, offset: number, err: ConveyorError): Promise<number> {
  let min = Number(err.fields.minOffset ?? err.fields.minQueueOffset);
  let max = Number(err.fields.maxOffset ?? err.fields.maxQueueOffset);
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
    ({ minOffset: min, maxOffset: max } = await queueRange(context, queue));
  }
  return offset < min ? min : Math.min(Math.max(offset, min), max);
}
