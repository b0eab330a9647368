// The producer: validates messages client-side, picks a queue (round-robin over writable queues of
// live masters, around isolated brokers), sends a batch per RPC and retries a failed send on
// another broker group with the same message ids (the broker de-duplicates on them). Ordered sends
// pick the queue from a sharding key and never hop.
import type { Logger } from '../../common/logging.js';
import { ConveyorError, ErrorCode, errorCodeName } from '../../common/errors.js';
import { validateName } from '../../common/names.js';
import type { conveyor } from '../../proto/index.js';
import { ClientContext, clientLogger, requireRunning, type ClientOptions, type LifecycleState } from '../client-context.js';
import { FaultAvoidance } from '../routing/fault-avoidance.js';
import { prepareBatch, prepareMessage, prepareMessageDeferringId, preparedRecordBytes, type OutgoingMessage, type PreparedMessage } from '../message.js';
import { assignMessageIds, MESSAGE_ID_UNASSIGNED } from '../../common/message-id.js';
import { QueueSelector, shardQueue } from '../routing/queue-selector.js';
import { SendCoalescer } from './send-coalescer.js';
import { encodeSendRequest } from './send-request-encoder.js';
import { SendFrames } from './send-frames.js';
import { codeOf, isRetryableSendError, refreshesRoute } from '../retry-policy.js';
import { MASTER_BROKER_ID, masterAddress, writableQueuesOf, type MessageQueue, type TopicRoute } from '../routing/route.js';

/** Deadline of one send attempt. */
const SEND_TIMEOUT_MS_DEFAULT = 3_000;
/** Retries on another broker group after the first attempt (RocketMQ's default). */
const SEND_RETRIES_DEFAULT = 2;
/** Upper bound on retries a caller may configure: each retry is a full send deadline. */
const SEND_RETRIES_MAX = 16;
/** Oneway sends not yet answered; past this sendOneway throws instead of buffering without bound. */
const ONEWAY_IN_FLIGHT_MAX = 4_096;
/** Topics with a round-robin position kept; older ones are forgotten (they restart at a random queue). */
const SELECTORS_MAX = 10_000;
/** The queue sends to a not-yet-routed topic go to (auto-created topics always have queue 0). */
const AUTO_CREATE_QUEUE_ID = 0;
/** A stand-in route for a not-yet-routed topic is reused this long before the nameserver is asked again. */
const AUTO_CREATE_ROUTE_TTL_MS = 1_000;
/** Stand-in routes kept at once. */
const AUTO_CREATE_ROUTES_MAX = 1_000;
/** Producer group used when none is given. */
const PRODUCER_GROUP_DEFAULT = 'DEFAULT_PRODUCER';

/**
 * OK: stored (and flushed/replicated as configured). SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE: stored
 * on the master, not yet confirmed by a slave (sync replication). FLUSH_TIMEOUT: written, the
 * sync flush did not finish in time.
 */
export type SendStatus = 'OK' | 'SLAVE_TIMEOUT' | 'SLAVE_NOT_AVAILABLE' | 'FLUSH_TIMEOUT';

export interface SendResult {
  readonly status: SendStatus;
  readonly messageId: string;
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly storeTimestampMs: number;
  /** The broker had seen this id within its window: this is the original result, nothing new was stored. */
  readonly duplicate: boolean;
}

export interface ProducerOptions extends ClientOptions {
  /** Producer group name (default DEFAULT_PRODUCER). */
  group?: string;
  /** Deadline of one send attempt (default 3000 ms); a send with retries may take (retries + 1) times this. */
  sendTimeoutMs?: number;
  /** Attempts on other broker groups after a retryable failure (default 2, at most 16). */
  retries?: number;
  /** Skip brokers that failed or answered slowly (default true). */
  faultAvoidance?: boolean;
  /** A send slower than this isolates its broker (default 1000 ms). */
  slowThresholdMs?: number;
  /** How long a slow broker is skipped (default 5000 ms). */
  slowIsolationMs?: number;
  /** How long a broker that failed is skipped (default 10000 ms). */
  failureIsolationMs?: number;
  /**
   * Coalesced send RPCs one (broker, topic, queue) may have in flight (default 1, at most 16).
   * 1 lets batches grow with the round trip (throughput); more lets a send leave at once while an
   * earlier RPC to its queue still waits, e.g. for sync replication (latency).
   */
  rpcsInFlightPerQueue?: number;
}

export interface ProducerStats {
  onewayInFlight: number;
  onewaySent: number;
  onewayFailed: number;
  retries: number;
  /** Send RPCs made (one per queue's batch, including retries). */
  sendRequests: number;
  /** Frames (or unary calls) those RPCs went out in: fewer when several queues of one broker shared one (send-frames.ts). */
  sendFrames: number;
}

export class Producer {
  private state: LifecycleState = 'created';
  private context: ClientContext | undefined;
  private readonly group: string;
  private readonly sendTimeoutMs: number;
  private readonly retries: number;
  private readonly fault: FaultAvoidance;
  private readonly avoidFaults: boolean;
  private readonly selectors = new Map<string, QueueSelector>();
  private readonly oneway = new Set<Promise<void>>();
  private readonly standInRoutes = new Map<string, { route: TopicRoute; untilMs: number }>();
  private readonly counters = { onewaySent: 0, onewayFailed: 0, retries: 0 };
  /** Concurrent send() calls to one (broker, topic, queue) share batch RPCs (send-coalescer.ts). */
  private readonly coalescer: SendCoalescer<PreparedMessage, SendResult>;
  /** Send RPCs to one broker in one turn of the event loop share a frame (send-frames.ts); made with the context. */
  private frames: SendFrames | undefined;
  private readonly log: Logger;

  constructor(private readonly options: ProducerOptions = {}) {
    this.group = validateName('producer group', options.group ?? PRODUCER_GROUP_DEFAULT);
    this.sendTimeoutMs = positiveInteger('sendTimeoutMs', options.sendTimeoutMs ?? SEND_TIMEOUT_MS_DEFAULT);
    // Generated ids are given as a coalesced RPC is formed: consecutive counters within one RPC.
    this.coalescer = new SendCoalescer<PreparedMessage, SendResult>(options.rpcsInFlightPerQueue, assignMessageIds);
    const retries = options.retries ?? SEND_RETRIES_DEFAULT;
    if (!Number.isInteger(retries) || retries < 0 || retries > SEND_RETRIES_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `retries must be a whole number from 0 to ${SEND_RETRIES_MAX}, got ${retries}`, { retries });
    }
    this.retries = retries;
    this.avoidFaults = options.faultAvoidance ?? true;
    this.fault = new FaultAvoidance({ slowThresholdMs: options.slowThresholdMs, slowIsolationMs: options.slowIsolationMs, failureIsolationMs: options.failureIsolationMs });
    this.log = clientLogger(options, 'producer');
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.context = new ClientContext(this.options, this.log);
    this.frames = new SendFrames(this.context.connections);
    this.state = 'running';
  }

  /**
   * Sends one message and resolves with where it was stored. Concurrent sends to the same queue
   * travel together in one batch RPC (no added delay: see client/producer/send-coalescer.ts).
   */
  async send(topic: string, message: OutgoingMessage): Promise<SendResult> {
    const context = this.running();
    // A generated id is given when the message's first RPC is formed (and kept for its retries).
    const prepared = prepareMessageDeferringId(topic, message, Date.now());
    const [result] = await this.sendWithRetries(context, topic, [prepared], this.retries, true);
    return result as SendResult;
  }

  /** Sends messages as one batch to one queue in one RPC (bounded: common/limits.ts). Results are in order. */
  async sendBatch(topic: string, messages: readonly OutgoingMessage[]): Promise<SendResult[]> {
    const context = this.running();
    if (messages.length === 0) return [];
    const prepared = prepareBatch(topic, messages, Date.now());
    return this.sendWithRetries(context, topic, prepared, this.retries);
  }

  /**
   * Sends without waiting for the result: one attempt, failures are counted (stats()) and logged at
   * debug. Invalid input still throws at once; so does having ONEWAY_IN_FLIGHT_MAX sends unanswered.
   */
  sendOneway(topic: string, message: OutgoingMessage): void {
    const context = this.running();
    const prepared = prepareMessage(topic, message, Date.now());
    if (this.oneway.size >= ONEWAY_IN_FLIGHT_MAX) {
      throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `${ONEWAY_IN_FLIGHT_MAX} oneway sends are still unanswered; slow down or use send()`, { max: ONEWAY_IN_FLIGHT_MAX });
    }
    const pending: Promise<void> = this.sendWithRetries(context, topic, [prepared], 0).then(
      () => {
        this.counters.onewaySent++;
      },
      (err: unknown) => {
        this.counters.onewayFailed++;
        this.log.debug({ topic, messageId: prepared.messageId, err }, 'oneway send failed');
      },
    ).finally(() => this.oneway.delete(pending));
    this.oneway.add(pending);
  }

  /**
   * Sends to the queue chosen by `shardingKey` (hash mod the writable queue count over the sorted
   * queue list): messages with one key keep their order. No retry on another queue: a failure throws.
   */
  async sendOrdered(topic: string, message: OutgoingMessage, shardingKey: string): Promise<SendResult> {
    const context = this.running();
    const prepared = prepareMessage(topic, message, Date.now());
    const target = await this.resolveTarget(context, topic);
    const queue = target.queues.length > 0 ? shardQueue(target.queues, shardingKey) : undefined;
    if (queue === undefined) throw noWritableQueue(topic, target.route);
    const [result] = await this.attempt(context, target.route, queue, [prepared]);
    return result as SendResult;
  }

  stats(): ProducerStats {
    const frames = this.frames?.stats ?? { requests: 0, frames: 0 };
    return { onewayInFlight: this.oneway.size, ...this.counters, sendRequests: frames.requests, sendFrames: frames.frames };
  }

  /** Waits for unanswered oneway sends (each bounded by its deadline), then closes connections. */
  async shutdown(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    await Promise.allSettled([...this.oneway]);
    this.context?.close();
  }

  private running(): ClientContext {
    requireRunning(this.state, 'producer');
    return this.context as ClientContext;
  }

  private selector(topic: string): QueueSelector {
    let selector = this.selectors.get(topic);
    if (selector === undefined) {
      if (this.selectors.size >= SELECTORS_MAX) this.selectors.clear();
      selector = new QueueSelector();
      this.selectors.set(topic, selector);
    }
    return selector;
  }

  private async sendWithRetries(context: ClientContext, topic: string, messages: PreparedMessage[], retries: number, coalesce = false): Promise<SendResult[]> {
    let lastError: unknown;
    let lastBroker: string | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      let queue: MessageQueue | undefined;
      try {
        const target = cachedTarget(context, topic) ?? (await this.resolveTarget(context, topic));
        queue = this.selector(topic).select(target.queues, (b) => !this.avoidFaults || this.fault.isAvailable(b), lastBroker);
        if (queue === undefined) throw noWritableQueue(topic, target.route);
        const only = messages.length === 1 ? messages[0] : undefined;
        if (coalesce && only !== undefined) return [await this.coalescedAttempt(context, target.route, queue, only)];
        return await this.attempt(context, target.route, queue, messages);
      } catch (err) {
        const code = codeOf(err);
        if (!isRetryableSendError(code)) throw err;
        lastError = err;
        lastBroker = queue?.brokerName;
        if (attempt < retries) {
          this.counters.retries++;
          this.log.debug({ topic, broker: lastBroker, code: errorCodeName(code), attempt }, 'send failed, retrying on another broker');
          // A moved master or a stale route: fetch the route before the next attempt.
          if (refreshesRoute(code)) await context.routes.refresh(topic).catch(() => undefined);
        }
      }
    }
    throw lastError;
  }

  /** One message sent with the other concurrent sends to the same master and queue. */
  private coalescedAttempt(context: ClientContext, route: TopicRoute, queue: MessageQueue, message: PreparedMessage): Promise<SendResult> {
    const lane = laneOf(route, queue);
    if (lane.key === undefined) throw noWritableQueue(queue.topic, route);
    return this.coalescer.submit(lane.key, message, preparedRecordBytes(queue.topic, message), (batch) => this.attempt(context, route, queue, batch, true));
  }

  /**
   * One RPC to the master of the queue's broker group. Records latency or failure for fault
   * avoidance. `shareFrame`: a coalesced RPC, which may share a frame with the other queues' RPCs
   * to that broker (send-frames.ts); a sendBatch goes alone, as its caller issued it.
   */
  private async attempt(context: ClientContext, route: TopicRoute, queue: MessageQueue, messages: PreparedMessage[], shareFrame = false): Promise<SendResult[]> {
    const address = masterAddress(route, queue.brokerName);
    if (address === undefined) throw noWritableQueue(queue.topic, route);
    for (let i = 0; i < messages.length; i++) {
      if (messages[i]!.messageId === MESSAGE_ID_UNASSIGNED) throw new Error(`assertion failed: message ${i} of a send to ${queue.topic} has no id (ids are given as a coalesced RPC is formed)`);
    }
    const started = Date.now();
    let response: conveyor.SendResponse;
    try {
      const request = encodeSendRequest({ topic: queue.topic, queueId: queue.queueId, producerGroup: this.group, messages, acceptsStoredBatch: true });
      response = await (this.frames as SendFrames).send(address, request, this.sendTimeoutMs, shareFrame);
    } catch (err) {
      const code = codeOf(err);
      if (isRetryableSendError(code)) this.fault.recordFailure(queue.brokerName);
      if (refreshesRoute(code)) context.routes.refreshSoon(queue.topic);
      throw err;
    }
    this.fault.recordSuccess(queue.brokerName, Date.now() - started);
    return toSendResults(queue, messages, response);
  }

  /**
   * The writable queues for a topic. A topic no nameserver knows is sent to queue 0 of a master of
   * the cluster, in turn: a broker with auto-create on creates it, one without answers
   * TOPIC_NOT_FOUND (as RocketMQ's default-topic route does). Sends try cachedTarget first.
   */
  private async resolveTarget(context: ClientContext, topic: string): Promise<{ route: TopicRoute; queues: readonly MessageQueue[] }> {
    try {
      const route = await context.routes.get(topic);
      return { route, queues: writableQueuesOf(route) };
    } catch (err) {
      if (codeOf(err) !== ErrorCode.TOPIC_NOT_FOUND) throw err;
      const route = await this.autoCreateRoute(context, topic);
      if (route === undefined) throw err;
      return { route, queues: writableQueuesOf(route) };
    }
  }

  private async autoCreateRoute(context: ClientContext, topic: string): Promise<TopicRoute | undefined> {
    const cached = this.standInRoutes.get(topic);
    if (cached && Date.now() < cached.untilMs) return cached.route;
    const route = await this.clusterMastersRoute(context, topic);
    if (this.standInRoutes.size >= AUTO_CREATE_ROUTES_MAX) this.standInRoutes.clear();
    if (route) this.standInRoutes.set(topic, { route, untilMs: Date.now() + AUTO_CREATE_ROUTE_TTL_MS });
    else this.standInRoutes.delete(topic);
    return route;
  }

  private async clusterMastersRoute(context: ClientContext, topic: string): Promise<TopicRoute | undefined> {
    const info = await context.discovery.getClusterInfo();
    const masters = info.brokers
      .filter((b) => Number(b.brokerId ?? 0) === MASTER_BROKER_ID && b.brokerName && b.brokerAddress)
      .map((b) => ({ clusterName: b.clusterName ?? '', brokerName: b.brokerName ?? '', address: b.brokerAddress ?? '' }));
    if (masters.length === 0) return undefined;
    return {
      topic,
      queues: masters.map((b) => ({ brokerName: b.brokerName, readQueueCount: AUTO_CREATE_QUEUE_ID + 1, writeQueueCount: AUTO_CREATE_QUEUE_ID + 1, perm: 6 })),
      brokers: masters.map((b) => ({ clusterName: b.clusterName, brokerName: b.brokerName, addresses: [{ brokerId: MASTER_BROKER_ID, address: b.address }] })),
    };
  }
}

/**
 * The coalescer lane of a queue (its master's address, topic and queue id), kept per queue object:
 * the queues of writableQueuesOf are shared per route, and building the key string for every send
 * showed in the single-send profile. Checked against the route, so a queue object passed with another route gets the
 * lane of that route. `key` undefined: the route names no master for the queue's broker group.
 */
const lanesByQueue = new WeakMap<MessageQueue, { route: TopicRoute; key: string | undefined }>();

function laneOf(route: TopicRoute, queue: MessageQueue): { route: TopicRoute; key: string | undefined } {
  let lane = lanesByQueue.get(queue);
  if (lane === undefined || lane.route !== route) {
    const address = masterAddress(route, queue.brokerName);
    lane = { route, key: address === undefined ? undefined : `${address}\u0000${queue.topic}\u0000${queue.queueId}` };
    lanesByQueue.set(queue, lane);
  }
  return lane;
}

/**
 * The target from a cached route, without a promise: the send path asks for every message, and
 * the awaits of resolveTarget and the route cache's `get` were microtask turns per send. Undefined
 * when the route is not cached (resolveTarget then fetches it, or falls back to auto-create).
 */
function cachedTarget(context: ClientContext, topic: string): { route: TopicRoute; queues: readonly MessageQueue[] } | undefined {
  const route = context.routes.getCached(topic);
  return route === undefined ? undefined : { route, queues: writableQueuesOf(route) };
}

/**
 * One SendResult per message, in request order, from either answer shape: the compact StoredBatch
 * (every message stored by this send) or one wire SendResult per message (brokers before it, and
 * batches with duplicates).
 */
export function toSendResults(queue: MessageQueue, messages: readonly PreparedMessage[], response: conveyor.SendResponse): SendResult[] {
  const stored = response.stored;
  if (stored !== null && stored !== undefined && response.results.length === 0) return fromStoredBatch(queue, messages, stored);
  if (response.results.length !== messages.length) {
    throw new ConveyorError(ErrorCode.INTERNAL, `broker answered ${response.results.length} results for ${messages.length} messages`, { broker: queue.brokerName });
  }
  return response.results.map((r, i) => ({
    status: sendStatus(r.status ?? ErrorCode.OK, messages[i]?.messageId ?? ''),
    messageId: r.messageId || (messages[i]?.messageId ?? ''),
    topic: queue.topic,
    brokerName: r.brokerName || queue.brokerName,
    queueId: r.queueId ?? queue.queueId,
    queueOffset: Number(r.queueOffset ?? 0),
    physicalOffset: Number(r.physicalOffset ?? 0),
    storeTimestampMs: Number(r.storeTimestampMs ?? 0),
    duplicate: r.duplicate ?? false,
  }));
}

function fromStoredBatch(queue: MessageQueue, messages: readonly PreparedMessage[], stored: conveyor.IStoredBatch): SendResult[] {
  const deltas = stored.physicalOffsetDeltas ?? [];
  if (deltas.length !== messages.length) {
    throw new ConveyorError(ErrorCode.INTERNAL, `broker answered a stored batch of ${deltas.length} messages for ${messages.length}`, { broker: queue.brokerName });
  }
  const status = sendStatus(stored.status ?? ErrorCode.OK, messages[0]?.messageId ?? '');
  const brokerName = stored.brokerName || queue.brokerName;
  const queueId = stored.queueId ?? queue.queueId;
  const firstQueueOffset = Number(stored.firstQueueOffset ?? 0);
  const storeTimestampMs = Number(stored.storeTimestampMs ?? 0);
  const results = new Array<SendResult>(messages.length);
  let physicalOffset = Number(stored.firstPhysicalOffset ?? 0);
  for (let i = 0; i < messages.length; i++) {
    physicalOffset += deltas[i]!;
    results[i] = { status, messageId: messages[i]!.messageId, topic: queue.topic, brokerName, queueId, queueOffset: firstQueueOffset + i, physicalOffset, storeTimestampMs, duplicate: false };
  }
  return results;
}

function sendStatus(code: ErrorCode, messageId: string): SendStatus {
  switch (code) {
    case ErrorCode.OK: return 'OK';
    case ErrorCode.SLAVE_TIMEOUT: return 'SLAVE_TIMEOUT';
    case ErrorCode.SLAVE_NOT_AVAILABLE: return 'SLAVE_NOT_AVAILABLE';
    case ErrorCode.FLUSH_TIMEOUT: return 'FLUSH_TIMEOUT';
    default:
      throw new ConveyorError(code, `message ${messageId} was not stored: ${errorCodeName(code)}`, { messageId });
  }
}

function noWritableQueue(topic: string, route: TopicRoute): ConveyorError {
  const brokers = route.queues.map((q) => q.brokerName).join(', ') || 'none';
  return new ConveyorError(ErrorCode.NO_ROUTE, `topic '${topic}' has no writable queue on a live master (broker groups: ${brokers})`, { topic });
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `${name} must be a whole number above 0, got ${value}`, { [name]: value });
  return value;
}
