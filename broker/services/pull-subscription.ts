// A pull that stays open on a PullStream (docs/wire.md "Pull subscriptions"): one request frame
// subscribes a queue from an offset with a credit of messages; the broker answers on the same id
// whenever records land — the long-poll wake-up of pull.ts, without a timer, and the pooled answer
// buffers of pull-frame-pool.ts — while the messages it sent stay within the credit the client
// granted, and waits for more credit otherwise. It ends when the client cancels it (or the stream
// goes), with an error answer (bad input, offset out of range, a bound), or at shutdown. Each
// answer is one read through the request runner, so metrics and the shutdown gate see it as a pull.
import type { conveyor } from '../../proto/index.js';
import type { FrameCall } from './frame-call.js';
import type { RequestRunner } from './request-runner.js';
import type { PullService, QueueReader } from './pull.js';

/**
 * Messages a subscription may be granted ahead at most. A consumer grants what its process queue
 * has room for (1,000 by default, client/consumer/push-consumer.ts), so this only bounds a misbehaving
 * client: the broker never has more than this many messages of one subscription written and not
 * yet granted again.
 */
const PULL_SUBSCRIPTION_CREDIT_MAX = 65_536;
/**
 * Subscriptions open on one PullStream. A consumer has one per queue it reads from this broker;
 * kept well below STREAM_FRAMES_IN_FLIGHT_MAX (stream-handlers.ts), which they count against, so
 * that a stream full of subscriptions still reads its top-ups and cancels.
 */
export const PULL_SUBSCRIPTIONS_PER_STREAM_MAX = 256;
export interface SubscriptionHandle {
  /** More credit (a top-up frame). */
  grant(messages: number): void;
  /** Resolves when the subscription ended without an error to report (cancelled); rejects with the error to answer. */
  readonly done: Promise<void>;
}

class PullSubscription implements SubscriptionHandle {
  readonly done: Promise<void>;
  private credit: number;
  private wakeCredit: (() => void) | undefined;

  constructor(
    private readonly pull: PullService,
    private readonly request: conveyor.PullRequest,
    private readonly call: FrameCall<conveyor.PullRequest>,
    credit: number,
    private readonly run: RequestRunner,
    private readonly emit: (response: conveyor.IPullResponse) => void,
  ) {
    this.credit = Math.min(credit, PULL_SUBSCRIPTION_CREDIT_MAX);
    // Checked before the first answer: bad input is an error answer, and nothing is held.
    const reader = pull.reader(request, call);
    call.once('cancelled', () => this.wakeCredit?.());
    this.done = this.loop(reader);
  }

  grant(messages: number): void {
    this.credit = Math.min(this.credit + messages, PULL_SUBSCRIPTION_CREDIT_MAX);
    this.wakeCredit?.();
  }

  private async loop(reader: QueueReader): Promise<void> {
    const { call } = this;
    let offset = Number(this.request.queueOffset);
    // The last answer reached the queue's end: wait for records before reading (a read now would
    // find nothing; the wait checks the queue's end itself, so no landing is missed).
    let caughtUp = false;
    while (!call.cancelled) {
      if (this.credit <= 0) {
        await new Promise<void>((resolve) => (this.wakeCredit = resolve));
        this.wakeCredit = undefined;
        continue;
      }
      const response = await this.run('pull', () => this.next(reader, offset, caughtUp));
      caughtUp = false;
      if (response === undefined) continue;
      if (call.cancelled) {
        this.pull.written(response);
        return;
      }
      offset = Number(response.nextQueueOffset);
      caughtUp = offset >= Number(response.maxQueueOffset);
      this.credit -= response.recordCount ?? 0;
      this.emit(response);
    }
  }

  /** The next answer from `offset`: at once if records are there, else once they land; undefined if none came (cancelled, shutdown). */
  private async next(reader: QueueReader, offset: number, caughtUp: boolean): Promise<conveyor.IPullResponse | undefined> {
    const maxCount = Math.min(reader.maxCount, this.credit);
    let result = caughtUp ? undefined : await reader.read(offset, maxCount);
    if (result === undefined || result.status === 'no-new-message') {
      const outcome = await this.pull.waitForMessages(this.request.topic, this.request.queueId, offset, Number.POSITIVE_INFINITY, this.call);
      if (outcome !== 'woken') return undefined;
      result = await reader.read(offset, maxCount);
      if (result.status === 'no-new-message') return undefined;
    }
    return this.pull.answer(this.request.topic, result);
  }
}

/**
 * Opens a subscription (throws on bad input or at the broker's bound); `emit` writes one answer.
 * The slot is given back when it ends.
 */
export function openPullSubscription(
  pull: PullService,
  request: conveyor.PullRequest,
  call: FrameCall<conveyor.PullRequest>,
  credit: number,
  run: RequestRunner,
  emit: (response: conveyor.IPullResponse) => void,
): SubscriptionHandle {
  pull.subscriptions.acquire();
  let subscription: PullSubscription;
  try {
    subscription = new PullSubscription(pull, request, call, credit, run, emit);
  } catch (err) {
    pull.subscriptions.release();
    throw err;
  }
  const release = (): void => pull.subscriptions.release();
  subscription.done.then(release, release);
  return subscription;
}
