// The count of pull subscriptions open on one broker (pull-subscription.ts), against its bound.
import { ConveyorError, ErrorCode } from '../../common/errors.js';

/** Subscriptions open on one broker: each may hold a long-poll registration (long-poll.ts allows 10,000). */
const PULL_SUBSCRIPTIONS_MAX = 4_096;

/** Open subscriptions on one broker, against PULL_SUBSCRIPTIONS_MAX. */
export class SubscriptionCount {
  private count = 0;

  constructor(readonly max = PULL_SUBSCRIPTIONS_MAX) {}

  get open(): number {
    return this.count;
  }

  /** Takes a slot or throws SERVICE_UNAVAILABLE; the caller gives it back with release(). */
  acquire(): void {
    if (this.count >= this.max) {
      throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `too many pull subscriptions are open on this broker (limit ${this.max}); subscribe again shortly`, { max: this.max });
    }
    this.count += 1;
  }

  release(): void {
    this.count -= 1;
  }
}
