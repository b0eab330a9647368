// The push consumer: a handler per message (or per batch) over long-poll pulls. Clustering mode
// divides the topic's queues among the group's live members (heartbeats to every broker serving
// the topics; rebalance on an interval from GetConsumerList, averaging allocation); broadcasting
// mode reads every queue with offsets in a local file. Offsets are committed as "everything below
// is done" on an interval, when a queue moves away, and at shutdown.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { validateName } from '../../common/names.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import { ClientContext, clientLogger, createClientId, type ClientOptions, type LifecycleState } from '../client-context.js';
import { ConsumeDispatcher, CONSUME_RETRIES_DEFAULT, CONSUME_RETRY_BASE_DELAY_MS_DEFAULT, CONSUME_RETRY_MAX_DELAY_MS_DEFAULT } from './consume-dispatcher.js';
import { LocalOffsetStore } from './local-offset-store.js';
import type { Message } from '../message.js';
import { BrokerOffsetStore, type OffsetStore } from './offset-store.js';
import { PULL_LONG_POLL_MS_DEFAULT, PULL_MAX_BYTES_DEFAULT, PULL_MAX_COUNT_MAX } from './queue-reader.js';
import { QueuePuller, type ReadKind, type StartPosition } from './queue-puller.js';
import { allocateAveragely, diffAssignment } from './rebalance.js';
import { codeOf } from '../retry-policy.js';
import { allAddresses, compareQueues, queueKey, readableQueues, type MessageQueue, type TopicRoute } from '../routing/route.js';
import { parseTagExpression, type TagFilter } from './tag-expression.js';

const CONSUME_CONCURRENCY_DEFAULT = 20;
const CONSUME_CONCURRENCY_MAX = 1_000;
const MAX_CACHED_MESSAGES_PER_QUEUE_DEFAULT = 1_000;
/**
 * Messages asked for per pull. Each pull and answer has a fixed cost on both sides, so backlogs
 * drain far cheaper in larger pulls (docs/performance.md "Numbers that shaped the code"); a queue
 * at its head still gets what is there at once. 256 keeps most of that gain while a pull stays a
 * quarter of the default cache (RocketMQ's default is 32, Kafka fetches ~1 MiB per partition).
 */
const PULL_BATCH_SIZE_DEFAULT = 256;
const CONSUME_BATCH_SIZE_DEFAULT = 32;
const REBALANCE_INTERVAL_MS_DEFAULT = 2_000;
/** A third of the broker's default member expiry (30 s), so one lost heartbeat is not a departure. */
const HEARTBEAT_INTERVAL_MS_DEFAULT = 5_000;
const COMMIT_INTERVAL_MS_DEFAULT = 5_000;
/** Longest shutdown waits for running handlers before committing what is done. */
const SHUTDOWN_TIMEOUT_MS_DEFAULT = 30_000;
/** Topics one consumer subscribes to: each is heartbeated and rebalanced on every interval. */
const SUBSCRIBED_TOPICS_MAX = 100;

export type ConsumeMode = 'clustering' | 'broadcasting';

export interface PushConsumerOptions extends ClientOptions {
  group: string;
  /** One topic, or several with `topics`. */
  topic?: string;
  topics?: string[];
  /** `*` (default) or `a || b`: only messages with one of these tags are handled. */
  tagExpression?: string;
  mode?: ConsumeMode;
  /** Where a queue with no committed offset starts (default 'last'). */
  from?: StartPosition;
  /** Called once per message. Give this or batchHandler. */
  handler?: (message: Message) => Promise<void> | void;
  /** Called with up to batchSize messages of one queue, in offset order. */
  batchHandler?: (messages: Message[]) => Promise<void> | void;
  batchSize?: number;
  /** Handlers running at once (default 20). */
  concurrency?: number;
  /** Pulled, unfinished messages per queue before pulling that queue pauses (default 1000). */
  maxCachedMessagesPerQueue?: number;
  /** Messages asked for per pull (default 256, at most 1024). */
  pullBatchSize?: number;
  pullMaxBytes?: number;
  /** Long-poll hold asked of the broker (default 15000 ms). */
  longPollMs?: number;
  rebalanceIntervalMs?: number;
  heartbeatIntervalMs?: number;
  commitIntervalMs?: number;
  /** Retries of a message whose handler throws, before it is given up (default 16). */
  retries?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Broadcasting: directory of the local offset file (default ~/.conveyor/offsets). */
  offsetDir?: string;
  shutdownTimeoutMs?: number;
  /** Member id in the group (default host@pid@random). */
  clientId?: string;
}

export class PushConsumer {
  readonly clientId: string;
  readonly group: string;
  readonly topics: readonly string[];
  readonly mode: ConsumeMode;
  private state: LifecycleState = 'created';
  private context: ClientContext | undefined;
  private offsets: OffsetStore | undefined;
  private dispatcher: ConsumeDispatcher | undefined;
  private readonly pullers = new Map<string, QueuePuller>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly tagFilter: TagFilter;
  private readonly log: Logger;
  private rebalancing: Promise<void> | undefined;
  private committing: Promise<void> = Promise.resolve();
  private heartbeatAddresses = new Set<string>();
  private pulledFromSlaves = 0;
  private readonly reads: Record<ReadKind, number> = { pull: 0, subscribe: 0, 'top-up': 0, pushed: 0 };

  constructor(private readonly options: PushConsumerOptions) {
    this.group = validateName('consumer group', options.group);
    const topics = [...new Set([...(options.topic === undefined ? [] : [options.topic]), ...(options.topics ?? [])])].sort();
    if (topics.length === 0) throw invalid('a push consumer needs a topic (option topic or topics)');
    if (topics.length > SUBSCRIBED_TOPICS_MAX) throw invalid(`a push consumer subscribes to at most ${SUBSCRIBED_TOPICS_MAX} topics`);
    for (const topic of topics) validateName('topic', topic);
    this.topics = topics;
    this.tagFilter = parseTagExpression(options.tagExpression);
    this.mode = options.mode ?? 'clustering';
    if (this.mode !== 'clustering' && this.mode !== 'broadcasting') throw invalid(`mode must be 'clustering' or 'broadcasting', got '${String(this.mode)}'`);
    if ((options.handler === undefined) === (options.batchHandler === undefined)) throw invalid('give exactly one of handler and batchHandler');
    validateStart(options.from ?? 'last');
    for (const [name, value, max] of [
      ['concurrency', options.concurrency, CONSUME_CONCURRENCY_MAX],
      ['maxCachedMessagesPerQueue', options.maxCachedMessagesPerQueue, 1_000_000],
      ['pullBatchSize', options.pullBatchSize, PULL_MAX_COUNT_MAX],
      ['batchSize', options.batchSize, PULL_MAX_COUNT_MAX],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) throw invalid(`${name} must be a whole number from 1 to ${max}, got ${value}`);
    }
    this.clientId = options.clientId ?? createClientId();
    this.log = clientLogger(options, 'push-consumer').child({ group: this.group, clientId: this.clientId });
  }

  /**
   * Checks that every subscribed topic is routed (TOPIC_NOT_FOUND otherwise), then starts
   * heartbeats, the first rebalance and the periodic work; resolves once queues are being pulled.
   */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    const options = this.options;
    const context = new ClientContext(options, this.log);
    this.context = context;
    this.offsets = this.mode === 'broadcasting' ? new LocalOffsetStore(this.group, options.offsetDir) : new BrokerOffsetStore(context, this.group);
    const handler = options.handler;
    const batchHandler = options.batchHandler;
    this.dispatcher = new ConsumeDispatcher({
      concurrency: options.concurrency ?? CONSUME_CONCURRENCY_DEFAULT,
      batchSize: batchHandler ? (options.batchSize ?? CONSUME_BATCH_SIZE_DEFAULT) : 1,
      handle: batchHandler ? async (messages) => batchHandler(messages) : async (messages) => handler?.(messages[0] as Message),
      retries: options.retries ?? CONSUME_RETRIES_DEFAULT,
      retryBaseDelayMs: options.retryBaseDelayMs ?? CONSUME_RETRY_BASE_DELAY_MS_DEFAULT,
      retryMaxDelayMs: options.retryMaxDelayMs ?? CONSUME_RETRY_MAX_DELAY_MS_DEFAULT,
      log: this.log,
    });
    try {
      // An unknown topic or unreachable nameservers fail start() with their code, not a silent wait.
      for (const topic of this.topics) await context.routes.get(topic);
    } catch (err) {
      context.close();
      this.state = 'stopped';
      throw err;
    }
    this.state = 'running';
    // A failure here (a broker not answering yet) is retried by the periodic work below.
    await this.heartbeat().catch((err: unknown) => this.log.debug({ err }, 'first heartbeat failed'));
    await this.rebalance().catch((err: unknown) => this.log.warn({ err }, 'first rebalance failed, retrying on the interval'));
    this.every(options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS_DEFAULT, () => this.heartbeat());
    this.every(options.rebalanceIntervalMs ?? REBALANCE_INTERVAL_MS_DEFAULT, () => this.rebalance());
    this.every(options.commitIntervalMs ?? COMMIT_INTERVAL_MS_DEFAULT, () => this.commit());
    this.log.info({ topics: this.topics, mode: this.mode }, 'consumer started');
  }

  /** Queues this member pulls right now, sorted. */
  assignment(): MessageQueue[] {
    return [...this.pullers.values()].map((p) => p.queue).sort(compareQueues);
  }

  /** Forces a rebalance now (it also runs on an interval). */
  async rebalance(): Promise<void> {
    if (this.state !== 'running') return;
    this.rebalancing ??= this.rebalanceOnce().finally(() => (this.rebalancing = undefined));
    return this.rebalancing;
  }

  /** Commits every queue's "everything below is done" offset now (it also runs on an interval). */
  commit(): Promise<void> {
    this.committing = this.committing.then(() => this.commitAll());
    return this.committing;
  }

  /**
   * `pulledFromSlaves`: messages pulled from a slave (failover reads) since start. `reads`: pull
   * requests sent, subscriptions opened, credit top-ups sent, answers pushed by subscriptions.
   */
  stats(): { queues: number; cached: number; running: number; handled: number; givenUp: number; pulledFromSlaves: number; reads: Readonly<Record<ReadKind, number>> } {
    const cached = [...this.pullers.values()].reduce((sum, p) => sum + (p.processQueue?.cachedCount ?? 0), 0);
    const d = this.dispatcher?.stats;
    return { queues: this.pullers.size, cached, running: d?.running ?? 0, handled: d?.handled ?? 0, givenUp: d?.givenUp ?? 0, pulledFromSlaves: this.pulledFromSlaves, reads: { ...this.reads } };
  }

  /**
   * Stops pulling, waits for running handlers (up to shutdownTimeoutMs), commits offsets,
   * leaves the group (so the others rebalance at once) and closes connections.
   */
  async shutdown(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    for (const timer of this.timers) clearInterval(timer);
    await this.rebalancing?.catch(() => undefined);
    const pullers = [...this.pullers.values()];
    for (const puller of pullers) puller.stop();
    const dispatcher = this.dispatcher as ConsumeDispatcher;
    dispatcher.stop();
    const timeoutMs = this.options.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS_DEFAULT;
    const idle = await Promise.race([dispatcher.whenIdle().then(() => true), delay(timeoutMs).then(() => false)]);
    if (!idle) this.log.warn({ timeoutMs }, 'handlers still running at shutdown; committing what is done');
    await Promise.all(pullers.map((p) => p.finished()));
    await this.commit().catch((err: unknown) => this.log.warn({ err }, 'final offset commit failed'));
    this.pullers.clear();
    await this.unregister();
    this.context?.close();
    this.log.info('consumer shut down');
  }

  private every(intervalMs: number, work: () => Promise<void>): void {
    const timer = setInterval(() => {
      work().catch((err: unknown) => this.log.debug({ err }, 'periodic consumer work failed'));
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  private async routes(): Promise<Map<string, TopicRoute>> {
    const context = this.context as ClientContext;
    const routes = new Map<string, TopicRoute>();
    for (const topic of this.topics) {
      try {
        routes.set(topic, await context.routes.get(topic));
      } catch (err) {
        if (codeOf(err) !== ErrorCode.TOPIC_NOT_FOUND) throw err;
        this.log.debug({ topic }, 'subscribed topic has no route yet');
      }
    }
    return routes;
  }

  /** Tells every broker serving the topics that this member is alive. */
  private async heartbeat(): Promise<void> {
    if (this.state !== 'running') return;
    const context = this.context as ClientContext;
    const routes = await this.routes();
    const addresses = new Set([...routes.values()].flatMap(allAddresses));
    const request = { clientId: this.clientId, consumerGroup: this.group, topics: [...this.topics], mode: this.mode === 'broadcasting' ? conveyor.ConsumeMode.BROADCASTING : conveyor.ConsumeMode.CLUSTERING };
    await Promise.all(
      [...addresses].map(async (address) => {
        try {
          await context.connections.call(address, BrokerService.consumerHeartbeat, request, { deadlineMs: context.requestTimeoutMs });
          this.heartbeatAddresses.add(address);
        } catch (err) {
          this.log.debug({ address, err }, 'consumer heartbeat failed');
        }
      }),
    );
  }

  private async rebalanceOnce(): Promise<void> {
    const routes = await this.routes();
    const wanted: MessageQueue[] = [];
    for (const [topic, route] of routes) {
      const queues = readableQueues(route);
      if (this.mode === 'broadcasting') {
        wanted.push(...queues);
        continue;
      }
      const members = await this.members(route);
      if (members === undefined) {
        // No broker answered: keep what this member has rather than dropping everything.
        wanted.push(...[...this.pullers.values()].map((p) => p.queue).filter((q) => q.topic === topic));
        continue;
      }
      wanted.push(...allocateAveragely(queues, members, this.clientId));
    }
    if (this.state !== 'running') return;
    const change = diffAssignment(this.assignment(), wanted);
    if (change.added.length === 0 && change.removed.length === 0) return;
    this.log.info({ added: change.added.map(queueKey), removed: change.removed.map(queueKey), owned: wanted.length }, 'queues rebalanced');
    await Promise.all(change.removed.map((queue) => this.release(queue)));
    for (const queue of change.added) this.acquire(queue);
  }

  /**
   * Sorted live member ids of the group: the union of what every broker of the route (not
   * suspected dead) answers, asked at once. A union, not the first answer: a broker that has just
   * restarted knows only the members that heartbeated since, and members going by its list alone
   * would disagree about the allocation. Undefined when no broker answered.
   */
  private async members(route: TopicRoute): Promise<string[] | undefined> {
    const context = this.context as ClientContext;
    const all = allAddresses(route);
    const healthy = all.filter((address) => !context.suspicion.isSuspect(address));
    const answers = await Promise.allSettled(
      (healthy.length > 0 ? healthy : all).map((address) =>
        context.connections.call(address, BrokerService.getConsumerList, { consumerGroup: this.group }, { deadlineMs: context.requestTimeoutMs }),
      ),
    );
    const members = new Set<string>();
    let answered = false;
    for (const answer of answers) {
      if (answer.status === 'rejected') {
        this.log.debug({ err: answer.reason }, 'consumer list failed on one broker');
        continue;
      }
      answered = true;
      for (const id of answer.value.clientIds) members.add(id);
    }
    if (!answered) return undefined;
    // A broker that has not seen this member's heartbeat yet: count it in, it is alive.
    members.add(this.clientId);
    return [...members].sort();
  }

  private acquire(queue: MessageQueue): void {
    const puller = new QueuePuller(queue, {
      context: this.context as ClientContext,
      group: this.group,
      offsets: this.offsets as OffsetStore,
      dispatcher: this.dispatcher as ConsumeDispatcher,
      from: this.options.from ?? 'last',
      tagFilter: this.tagFilter,
      pullBatchSize: this.options.pullBatchSize ?? PULL_BATCH_SIZE_DEFAULT,
      pullMaxBytes: this.options.pullMaxBytes ?? PULL_MAX_BYTES_DEFAULT,
      longPollMs: this.options.longPollMs ?? PULL_LONG_POLL_MS_DEFAULT,
      maxCachedMessagesPerQueue: this.options.maxCachedMessagesPerQueue ?? MAX_CACHED_MESSAGES_PER_QUEUE_DEFAULT,
      onSlaveMessages: (count) => (this.pulledFromSlaves += count),
      onRead: (kind) => this.reads[kind]++,
      log: this.log,
    });
    this.pullers.set(queueKey(queue), puller);
    puller.start();
  }

  /** A queue moved to another member: stop pulling, wait briefly for its running handlers, commit. */
  private async release(queue: MessageQueue): Promise<void> {
    const key = queueKey(queue);
    const puller = this.pullers.get(key);
    if (puller === undefined) return;
    this.pullers.delete(key);
    puller.stop();
    const processQueue = puller.processQueue;
    if (processQueue === undefined) return;
    await Promise.race([processQueue.waitIdle(), delay(this.options.commitIntervalMs ?? COMMIT_INTERVAL_MS_DEFAULT)]);
    await this.commitQueue(processQueue.queue, processQueue.committable(), processQueue);
  }

  private async commitAll(): Promise<void> {
    await Promise.all(
      [...this.pullers.values()].map(async (puller) => {
        const processQueue = puller.processQueue;
        if (processQueue === undefined || !processQueue.needsCommit()) return;
        await this.commitQueue(processQueue.queue, processQueue.committable(), processQueue);
      }),
    );
    await (this.offsets as OffsetStore).flush().catch((err: unknown) => this.log.warn({ err }, 'local offset flush failed'));
  }

  private async commitQueue(queue: MessageQueue, offset: number, processQueue: { lastCommitted: number | undefined; lastCommitAtHome: boolean }): Promise<void> {
    try {
      const place = await (this.offsets as OffsetStore).write(queue, offset);
      processQueue.lastCommitted = offset;
      processQueue.lastCommitAtHome = place === 'home';
    } catch (err) {
      this.log.debug({ queue: queueKey(queue), offset, err }, 'offset commit failed, retrying on the next interval');
    }
  }

  private async unregister(): Promise<void> {
    const context = this.context as ClientContext;
    await Promise.all(
      [...this.heartbeatAddresses].map((address) =>
        context.connections
          .call(address, BrokerService.unregisterConsumer, { clientId: this.clientId, consumerGroup: this.group }, { deadlineMs: context.requestTimeoutMs })
          .catch((err: unknown) => this.log.debug({ address, err }, 'unregister failed')),
      ),
    );
  }
}

function invalid(message: string): ConveyorError {
  return new ConveyorError(ErrorCode.INVALID_ARGUMENT, message, {});
}

export function validateStart(from: StartPosition): void {
  if (from === 'first' || from === 'last') return;
  if (typeof from === 'object' && from !== null && Number.isSafeInteger(from.timestamp) && from.timestamp >= 0) return;
  throw invalid(`from must be 'first', 'last' or { timestamp: <ms since epoch> }, got ${JSON.stringify(from)}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
