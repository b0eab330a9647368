// The read loop of one assigned queue in a push consumer: find the start offset, then read through
// a pull subscription (queue-subscription.ts), or, from a broker that takes none, long-poll pull
// one request outstanding at a time, pausing while the queue's cache is full; hand messages to
// the dispatcher; on errors back off (growing, bounded) and go on. Stopped by abort (rebalance
// moved the queue away, or shutdown).
import { ConveyorError, ErrorCode, errorCodeName } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { ClientContext } from '../client-context.js';
import type { ConsumeDispatcher } from './consume-dispatcher.js';
import type { Message } from '../message.js';
import type { ProcessQueue } from './process-queue.js';
import type { OffsetStore } from './offset-store.js';
import { offsetAfterOutOfRange, pullQueue, queueRange, searchOffset, type PullResult } from './queue-reader.js';
import { consumeSubscribed, SubscribedProcessQueue } from './queue-subscription.js';
import { outOfRangeAction } from '../routing/read-target.js';
import { codeOf } from '../retry-policy.js';
import { MASTER_BROKER_ID, queueKey, type MessageQueue } from '../routing/route.js';
import { matchesTag, type TagFilter } from './tag-expression.js';

/**
 * Defensive: only messages at or after the asked offset, in increasing offset order. A broker
 * answers exactly that, so the usual case is one check over the answer and no copy.
 */
export function inOrderFrom(messages: Message[], offset: number): Message[] {
  let previous = offset - 1;
  for (const m of messages) {
    if (m.queueOffset <= previous) return messages.filter((x) => x.queueOffset >= offset).sort((a, b) => a.queueOffset - b.queueOffset);
    previous = m.queueOffset;
  }
  return messages;
}

/** Where a group with no committed offset for a queue starts: the oldest stored, the next new one, or a time. */
export type StartPosition = 'first' | 'last' | { timestamp: number };

/** Back-off after a failed pull: doubles from the first value up to the last. */
const PULL_BACKOFF_FIRST_MS = 100;
const PULL_BACKOFF_MAX_MS = 3_000;
/**
 * After a broker could not take a subscription (it predates them), the queue is pulled for this
 * long before a subscription is tried again: a broker upgraded meanwhile is subscribed within a
 * minute, and an old one costs one route lookup a minute.
 */
const SUBSCRIBE_RETRY_MS = 60_000;

interface PullerSettings {
  context: ClientContext;
  group: string;
  offsets: OffsetStore;
  dispatcher: ConsumeDispatcher;
  from: StartPosition;
  tagFilter: TagFilter;
  pullBatchSize: number;
  pullMaxBytes: number;
  longPollMs: number;
  maxCachedMessagesPerQueue: number;
  /** Called with the messages of every pull a slave answered (consumer statistics). */
  onSlaveMessages?: (count: number) => void;
  /** Counts request frames and answers (consumer statistics): a pull, a subscription opened, a top-up, an answer pushed by a subscription. */
  onRead?: (kind: ReadKind) => void;
  log: Logger;
}

export type ReadKind = 'pull' | 'subscribe' | 'top-up' | 'pushed';

export class QueuePuller {
  processQueue: SubscribedProcessQueue | undefined;
  private readonly abort = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;
  private backoffMs = 0;
  /** Until when to pull instead of subscribing (SUBSCRIBE_RETRY_MS). */
  private pullUntilMs = 0;

  constructor(readonly queue: MessageQueue, private readonly settings: PullerSettings) {}

  start(): void {
    this.loopDone = this.loop().catch((err: unknown) => {
      // Only a bug gets here (every operating error is handled in the loop): let it show.
      this.settings.log.error({ queue: queueKey(this.queue), err }, 'pull loop ended by an unexpected error');
      throw err;
    });
  }

  /** Stops pulling: the outstanding pull is cancelled, queued messages will be skipped. */
  stop(): void {
    this.stopped = true;
    this.processQueue?.drop();
    this.abort.abort();
  }

  /** Resolves when the loop has ended (after stop()). */
  finished(): Promise<void> {
    return this.loopDone.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const { settings } = this;
    const start = await this.untilStopped(() => this.startOffset());
    if (start === undefined) return;
    const processQueue = new SubscribedProcessQueue(this.queue, start, settings.maxCachedMessagesPerQueue);
    this.processQueue = processQueue;
    if (this.stopped) processQueue.drop();
    while (!this.stopped) {
      await processQueue.waitForSpace();
      if (this.stopped) break;
      const offset = processQueue.tracker.nextOffset;
      try {
        if (Date.now() >= this.pullUntilMs) {
          const end = await this.subscribed(processQueue);
          this.backoffMs = 0;
          if (end !== 'pull') continue;
          this.pullUntilMs = Date.now() + SUBSCRIBE_RETRY_MS;
          if (this.stopped) break;
          continue;
        }
        settings.onRead?.('pull');
        const result = await pullQueue(settings.context, this.queue, offset, {
          group: settings.group,
          maxCount: Math.min(settings.pullBatchSize, processQueue.room()),
          maxBytes: settings.pullMaxBytes,
          tagExpression: settings.tagFilter.expression,
          maxWaitMs: settings.longPollMs,
          signal: this.abort.signal,
        });
        this.backoffMs = 0;
        if (this.stopped) break;
        this.deliver(processQueue, result, offset);
      } catch (err) {
        if (this.stopped) break;
        await this.onPullError(processQueue, offset, err);
      }
    }
  }

  /** Reads through one subscription until it ends (queue-subscription.ts); errors are thrown as a pull's. */
  private subscribed(processQueue: SubscribedProcessQueue): Promise<'pull' | 'again' | 'stopped'> {
    const { settings } = this;
    return consumeSubscribed(
      settings.context,
      this.queue,
      processQueue,
      {
        group: settings.group,
        pullBatchSize: settings.pullBatchSize,
        pullMaxBytes: settings.pullMaxBytes,
        tagExpression: settings.tagFilter.expression,
        longPollMs: settings.longPollMs,
        maxCachedMessages: settings.maxCachedMessagesPerQueue,
        ...(settings.onRead === undefined ? {} : { onRequestFrame: settings.onRead }),
      },
      this.abort.signal,
      (result, offset) => {
        settings.onRead?.('pushed');
        if (!this.stopped) this.deliver(processQueue, result, offset);
      },
      (listener) => (processQueue.onSpace = listener),
    );
  }

  /** One answer (a pull's or a subscription's) read from `offset`: into the process queue, wanted messages to the dispatcher. */
  private deliver(processQueue: ProcessQueue, result: PullResult, offset: number): void {
    const { settings } = this;
    if (result.brokerId !== MASTER_BROKER_ID && result.messages.length > 0) settings.onSlaveMessages?.(result.messages.length);
    const messages = inOrderFrom(result.messages, offset);
    const last = messages[messages.length - 1];
    const next = Math.max(result.nextOffset, offset, last ? last.queueOffset + 1 : 0);
    const offsets = new Array<number>(messages.length);
    for (let i = 0; i < messages.length; i++) offsets[i] = messages[i]!.queueOffset;
    processQueue.received(offsets, next);
    let wanted = messages;
    if (settings.tagFilter.tags !== undefined) {
      wanted = messages.filter((m) => matchesTag(settings.tagFilter, m.tag));
      for (const m of messages) if (!matchesTag(settings.tagFilter, m.tag)) processQueue.complete(m.queueOffset);
    }
    if (wanted.length > 0) settings.dispatcher.submit(processQueue, wanted);
  }

  private async onPullError(processQueue: ProcessQueue, offset: number, err: unknown): Promise<void> {
    const code = codeOf(err);
    if (code === ErrorCode.OFFSET_OUT_OF_RANGE && err instanceof ConveyorError) {
      const min = Number(err.fields.minOffset ?? err.fields.minQueueOffset);
      const max = Number(err.fields.maxOffset ?? err.fields.maxQueueOffset);
      const servedBy = err.fields.brokerId === undefined ? undefined : Number(err.fields.brokerId);
      if (Number.isSafeInteger(min) && Number.isSafeInteger(max) && outOfRangeAction(offset, min, max, servedBy).kind === 'wait') {
        // A slave that has not copied this far yet: keep the position, ask again after a pause.
        this.settings.log.debug({ queue: queueKey(this.queue), offset, slaveMaxOffset: max, brokerId: servedBy }, 'slave is behind the consumer position, waiting');
        await this.backoff();
        return;
      }
      const corrected = await this.untilStopped(() => offsetAfterOutOfRange(this.settings.context, this.queue, offset, err));
      if (corrected === undefined) return;
      this.settings.log.warn({ queue: queueKey(this.queue), offset, corrected }, 'pull offset out of range, moved to the nearest valid offset');
      processQueue.tracker.reset(corrected);
      return;
    }
    this.settings.log.debug({ queue: queueKey(this.queue), offset, code: errorCodeName(code), err }, 'pull failed, backing off');
    await this.backoff();
  }

  /** Committed offset, or the start position's offset (then committed at once, so later owners agree). */
  private async startOffset(): Promise<number> {
    const { context, offsets, from } = this.settings;
    const committed = await offsets.read(this.queue);
    if (committed !== undefined) return committed;
    let offset: number;
    if (from === 'first') offset = (await queueRange(context, this.queue)).minOffset;
    else if (from === 'last') offset = (await queueRange(context, this.queue)).maxOffset;
    else offset = await searchOffset(context, this.queue, from.timestamp);
    await offsets.write(this.queue, offset).catch((err: unknown) => this.settings.log.debug({ queue: queueKey(this.queue), err }, 'could not record the start offset yet'));
    this.settings.log.debug({ queue: queueKey(this.queue), offset, from }, 'no committed offset, starting from the start position');
    return offset;
  }

  /** Runs `step` until it succeeds (backing off between failures) or the puller stops. */
  private async untilStopped<T>(step: () => Promise<T>): Promise<T | undefined> {
    while (!this.stopped) {
      try {
        const value = await step();
        this.backoffMs = 0;
        return value;
      } catch (err) {
        if (this.stopped) return undefined;
        this.settings.log.debug({ queue: queueKey(this.queue), err }, 'queue start failed, backing off');
        await this.backoff();
      }
    }
    return undefined;
  }

  private backoff(): Promise<void> {
    this.backoffMs = this.backoffMs === 0 ? PULL_BACKOFF_FIRST_MS : Math.min(this.backoffMs * 2, PULL_BACKOFF_MAX_MS);
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      const timer = setTimeout(() => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, this.backoffMs);
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
