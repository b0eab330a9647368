// The pull consumer, for users who want control: list a topic's queues, pull from any offset,
// commit and read committed offsets of the group. Optionally assign queues and poll them: the
// consumer then keeps a position per assigned queue (the committed offset, else the start
// position) and poll() pulls from them in turn. Nothing is committed unless commit() is called.
import type { Logger } from '../../common/logging.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { validateName } from '../../common/names.js';
import { ClientContext, clientLogger, requireRunning, type ClientOptions, type LifecycleState } from '../client-context.js';
import type { Message } from '../message.js';
import { BrokerOffsetStore } from './offset-store.js';
import { validateStart } from './push-consumer.js';
import { pullQueue, queueRange, searchOffset, PULL_MAX_COUNT_MAX, type PullResult } from './queue-reader.js';
import type { StartPosition } from './queue-puller.js';
import { compareQueues, queueKey, readableQueues, type MessageQueue } from '../routing/route.js';
import { parseTagExpression } from './tag-expression.js';

/** Queues one pull consumer may have assigned. */
const ASSIGNED_QUEUES_MAX = 10_000;

export interface PullConsumerOptions extends ClientOptions {
  group: string;
  /** Where assign() starts a queue the group has no committed offset for (default 'last'). */
  from?: StartPosition;
  /** Tag expression of pulls (default '*'). */
  tagExpression?: string;
}

export interface PullOptions {
  /** Long-poll hold when nothing is there (default 0: answer at once). */
  maxWaitMs?: number;
  tagExpression?: string;
  maxBytes?: number;
}

export class PullConsumer {
  readonly group: string;
  private state: LifecycleState = 'created';
  private context: ClientContext | undefined;
  private offsets: BrokerOffsetStore | undefined;
  private readonly assigned = new Map<string, { queue: MessageQueue; position: number }>();
  private nextPoll = 0;
  private readonly tagExpression: string;
  private readonly log: Logger;

  constructor(private readonly options: PullConsumerOptions) {
    this.group = validateName('consumer group', options.group);
    validateStart(options.from ?? 'last');
    this.tagExpression = parseTagExpression(options.tagExpression).expression;
    this.log = clientLogger(options, 'pull-consumer').child({ group: this.group });
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.context = new ClientContext(this.options, this.log);
    this.offsets = new BrokerOffsetStore(this.context, this.group);
    this.state = 'running';
  }

  /** The readable queues of a topic, sorted. TOPIC_NOT_FOUND for an unknown topic. */
  async queues(topic: string): Promise<MessageQueue[]> {
    const context = this.running();
    validateName('topic', topic);
    return readableQueues(await context.routes.get(topic));
  }

  /** One pull from `offset`: messages, where to go on, and the queue's range. */
  async pull(queue: MessageQueue, offset: number, maxCount: number, options: PullOptions = {}): Promise<PullResult> {
    const context = this.running();
    checkQueue(queue);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid(`offset must be a whole number >= 0, got ${offset}`);
    if (!Number.isInteger(maxCount) || maxCount < 1 || maxCount > PULL_MAX_COUNT_MAX) throw invalid(`maxCount must be a whole number from 1 to ${PULL_MAX_COUNT_MAX}, got ${maxCount}`);
    return pullQueue(context, queue, offset, {
      group: this.group,
      maxCount,
      maxBytes: options.maxBytes,
      maxWaitMs: options.maxWaitMs ?? 0,
      tagExpression: options.tagExpression === undefined ? this.tagExpression : parseTagExpression(options.tagExpression).expression,
    });
  }

  /** Records that everything below `offset` is done for the group (on the queue's master; on a slave while the master is away). */
  async commit(queue: MessageQueue, offset: number): Promise<void> {
    this.running();
    checkQueue(queue);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid(`offset must be a whole number >= 0, got ${offset}`);
    await (this.offsets as BrokerOffsetStore).write(queue, offset);
  }

  /** The group's committed offset for a queue, or undefined if it has none. */
  async committed(queue: MessageQueue): Promise<number | undefined> {
    this.running();
    checkQueue(queue);
    return (this.offsets as BrokerOffsetStore).read(queue);
  }

  /** [minOffset, maxOffset) of a queue. */
  async range(queue: MessageQueue): Promise<{ minOffset: number; maxOffset: number }> {
    const context = this.running();
    checkQueue(queue);
    return queueRange(context, queue);
  }

  /** The first offset stored at or after a time. */
  async offsetForTimestamp(queue: MessageQueue, timestampMs: number): Promise<number> {
    const context = this.running();
    checkQueue(queue);
    return searchOffset(context, queue, timestampMs);
  }

  /**
   * Replaces the assigned queues. Each starts at the group's committed offset, else at the start
   * position (`from`). Queues kept from the previous assignment keep their position.
   */
  async assign(queues: readonly MessageQueue[]): Promise<void> {
    const context = this.running();
    if (queues.length > ASSIGNED_QUEUES_MAX) throw invalid(`at most ${ASSIGNED_QUEUES_MAX} queues can be assigned`);
    const next = new Map<string, { queue: MessageQueue; position: number }>();
    for (const queue of [...queues].sort(compareQueues)) {
      checkQueue(queue);
      const key = queueKey(queue);
      const kept = this.assigned.get(key);
      if (kept) {
        next.set(key, kept);
        continue;
      }
      const committed = await this.committed(queue);
      const from = this.options.from ?? 'last';
      const position =
        committed !== undefined ? committed
        : from === 'first' ? (await queueRange(context, queue)).minOffset
        : from === 'last' ? (await queueRange(context, queue)).maxOffset
        : await searchOffset(context, queue, from.timestamp);
      next.set(key, { queue: { topic: queue.topic, brokerName: queue.brokerName, queueId: queue.queueId }, position });
    }
    this.assigned.clear();
    for (const [key, value] of next) this.assigned.set(key, value);
    this.nextPoll = 0;
  }

  assignment(): MessageQueue[] {
    return [...this.assigned.values()].map((a) => a.queue);
  }

  /** The next offset poll() reads from an assigned queue. */
  position(queue: MessageQueue): number | undefined {
    return this.assigned.get(queueKey(queue))?.position;
  }

  /** Moves an assigned queue's position. */
  seek(queue: MessageQueue, offset: number): void {
    const entry = this.assigned.get(queueKey(queue));
    if (entry === undefined) throw invalid(`queue ${queueKey(queue)} is not assigned`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid(`offset must be a whole number >= 0, got ${offset}`);
    entry.position = offset;
  }

  /**
   * Pulls assigned queues in turn, starting after the one polled last, until one returns messages
   * (or every queue was tried once), and advances their positions. Commits nothing.
   */
  async poll(maxCount: number, options: PullOptions = {}): Promise<Message[]> {
    this.running();
    const entries = [...this.assigned.values()];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[(this.nextPoll + i) % entries.length];
      if (entry === undefined) continue;
      const result = await this.pull(entry.queue, entry.position, maxCount, { ...options, maxWaitMs: 0 });
      entry.position = Math.max(result.nextOffset, entry.position);
      if (result.messages.length > 0) {
        this.nextPoll = (this.nextPoll + i + 1) % entries.length;
        return result.messages;
      }
    }
    return [];
  }

  async shutdown(): Promise<void> {
    if (this.state === 'running') this.context?.close();
    this.state = 'stopped';
  }

  private running(): ClientContext {
    requireRunning(this.state, 'pull consumer');
    return this.context as ClientContext;
  }
}

function invalid(message: string): ConveyorError {
  return new ConveyorError(ErrorCode.INVALID_ARGUMENT, message, {});
}

function checkQueue(queue: MessageQueue): void {
  validateName('topic', queue.topic);
  validateName('broker', queue.brokerName);
  if (!Number.isInteger(queue.queueId) || queue.queueId < 0) throw invalid(`queue id must be a whole number >= 0, got ${queue.queueId}`);
}
