// One queue read through a pull subscription (docs/wire.md "Pull subscriptions"): instead of a
// pull request per answer, the consumer subscribes the queue once at the broker group's first
// broker (read-target.ts order: the master, then slaves) with a credit of what its process queue
// can hold, and the broker answers whenever records land. Credit is topped up as messages finish,
// in steps of at least half the cache (few frames), so that messages sent but not yet received
// plus messages cached never exceed the cache bound. One watch timer per subscription (not per
// pull) moves it when its broker leaves the route, is suspected dead, or — for a slave — the
// master is back. The subscription's end (an error, a move, a stop) returns to the pull loop
// (queue-puller.ts), which handles errors as it does a pull's and subscribes again from its
// current position. A broker that answers a subscription as a plain pull predates them: that
// answer is delivered and the loop pulls from then on.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { ClientContext } from '../client-context.js';
import { ProcessQueue } from './process-queue.js';
import { PULL_DEADLINE_MARGIN_MS, PULL_MAX_BYTES_DEFAULT, PULL_WATCH_INTERVAL_MS, pullResultOf, stillTheBrokerToRead, withBroker, type PullResult } from './queue-reader.js';
import { brokerOrder } from '../routing/read-target.js';
import type { MessageQueue } from '../routing/route.js';

/** How a subscription ended without an error: `pull` — this broker cannot take one (pull instead); `again` — subscribe anew (moved, or the answer ended it); `stopped`. */
type SubscriptionEnd = 'pull' | 'again' | 'stopped';

interface SubscriptionSettings {
  group: string;
  pullBatchSize: number;
  pullMaxBytes: number;
  tagExpression: string;
  /** Long-poll hold for a broker that serves the subscription as a plain pull. */
  longPollMs: number;
  maxCachedMessages: number;
  /** Counts the request frames this sends (consumer statistics). */
  onRequestFrame?: (kind: 'subscribe' | 'top-up') => void;
}

/**
 * Credit granted in one top-up at least: half the cache, so a queue read at any rate costs one
 * small top-up frame per half-cache of messages (500 with the default cache of 1,000).
 */
export function topUpThreshold(maxCachedMessages: number): number {
  return Math.max(1, Math.ceil(maxCachedMessages / 2));
}

/**
 * Credit bookkeeping (pure): what the broker may still send (`outstanding`) never exceeds the
 * room the cache has; a top-up is due when the room beyond it reaches the threshold.
 */
export class SubscriptionCredit {
  outstanding = 0;

  constructor(private readonly threshold: number) {}

  /** The first grant: all the room there is. */
  initial(room: number): number {
    this.outstanding = room;
    return room;
  }

  /** Messages arrived (they now count against the cache instead). */
  received(messages: number): void {
    this.outstanding = Math.max(0, this.outstanding - messages);
  }

  /** Credit to grant now given the cache's room (0: none yet). */
  topUp(room: number): number {
    const more = room - this.outstanding;
    if (more < this.threshold) return 0;
    this.outstanding += more;
    return more;
  }
}

/**
 * Reads `queue` from the process queue's next offset through one subscription until it ends.
 * `deliver` gets each answer with the offset it was read from; `onSpace` is how the caller
 * reports that messages finished (the top-up check is installed there). Rejects with the error
 * that ended it (with the answering broker in its fields, as a pull's error).
 */
export async function consumeSubscribed(
  context: ClientContext,
  queue: MessageQueue,
  processQueue: ProcessQueue,
  settings: SubscriptionSettings,
  signal: AbortSignal,
  deliver: (result: PullResult, offset: number) => void,
  onSpace: (listener: (() => void) | undefined) => void,
): Promise<SubscriptionEnd> {
  const route = await context.routes.get(queue.topic);
  if (signal.aborted) return 'stopped';
  const target = brokerOrder(route, queue.brokerName, (address) => context.suspicion.isSuspect(address))[0];
  if (target === undefined) {
    context.routes.refreshSoon(queue.topic);
    throw new ConveyorError(ErrorCode.NO_ROUTE, `no live broker of group '${queue.brokerName}' serves topic '${queue.topic}'`, { topic: queue.topic, broker: queue.brokerName });
  }
  // No room (the cache filled meanwhile): a credit of 0 would read as a plain pull at the broker.
  const room = processQueue.room();
  if (room === 0) return 'again';
  const credit = new SubscriptionCredit(topUpThreshold(settings.maxCachedMessages));
  const request = {
    consumerGroup: settings.group,
    topic: queue.topic,
    queueId: queue.queueId,
    queueOffset: processQueue.tracker.nextOffset,
    maxCount: settings.pullBatchSize,
    maxBytes: settings.pullMaxBytes || PULL_MAX_BYTES_DEFAULT,
    tagExpression: settings.tagExpression,
    maxWaitMs: settings.longPollMs,
  };
  return new Promise<SubscriptionEnd>((resolve, reject) => {
    let done = false;
    const finish = (end: SubscriptionEnd | Error): void => {
      if (done) return;
      done = true;
      clearInterval(watch);
      signal.removeEventListener('abort', onAbort);
      onSpace(undefined);
      if (end instanceof Error) reject(end);
      else resolve(end);
    };
    const subscription = context.connections.subscribe(target.address, request, credit.initial(room), settings.longPollMs + PULL_DEADLINE_MARGIN_MS, {
      answer: (response, open) => {
        if (done) return;
        const result = pullResultOf(response, queue);
        credit.received(result.messages.length);
        deliver(result, processQueue.tracker.nextOffset);
        if (!open) return finish('pull');
        topUp();
      },
      failed: (err) => finish(withBroker(err, target.address, target.brokerId) as Error),
    });
    const topUp = (): void => {
      const more = credit.topUp(processQueue.room());
      if (more === 0 || subscription === undefined) return;
      subscription.grant(more);
      settings.onRequestFrame?.('top-up');
    };
    const onAbort = (): void => {
      subscription?.cancel();
      finish('stopped');
    };
    const watch = setInterval(() => {
      if (stillTheBrokerToRead(context, queue, target)) return;
      subscription?.cancel();
      finish('again');
    }, PULL_WATCH_INTERVAL_MS);
    watch.unref();
    if (subscription === undefined) return finish('pull');
    settings.onRequestFrame?.('subscribe');
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) return onAbort();
    onSpace(topUp);
  });
}

/** A process queue that reports each finished message (the subscription's top-up check). */
export class SubscribedProcessQueue extends ProcessQueue {
  onSpace: (() => void) | undefined;

  override complete(offset: number): void {
    super.complete(offset);
    this.onSpace?.();
  }
}
