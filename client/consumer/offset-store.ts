// Where a consumer group's offsets live. Clustering: on the broker group that serves the queue —
// committed to its master, or to a slave while the master is away (the broker accepts commits on
// slaves); read from every broker of the group that answers, the largest winning, so commits made
// on a slave are not rewound when the master returns (read-target.ts). Broadcasting: in a local
// file per member (local-offset-store.ts).
import { BrokerService } from '../../proto/index.js';
import type { ClientContext } from '../client-context.js';
import { codeOf, isUnreachable } from '../retry-policy.js';
import { brokerOrder, offsetPlace, reconcileOffsets, type BrokerCandidate, type OffsetPlace } from '../routing/read-target.js';
import type { MessageQueue } from '../routing/route.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';

export type { OffsetPlace } from '../routing/read-target.js';

export interface OffsetStore {
  /** The committed offset ("everything below is done"), or undefined if the group has none. */
  read(queue: MessageQueue): Promise<number | undefined>;
  /**
   * Records that everything below `offset` is done. Resolves with where it landed: 'home' (the
   * master, or the local file), or 'stand-in' (a slave, while the master is away: commit again
   * once it is back, or the master keeps the older offset).
   */
  write(queue: MessageQueue, offset: number): Promise<OffsetPlace>;
  /** Makes earlier writes durable (the local store writes its file). */
  flush(): Promise<void>;
}

export class BrokerOffsetStore implements OffsetStore {
  constructor(private readonly context: ClientContext, private readonly group: string) {}

  /**
   * Asks every broker of the group not suspected dead (all of them if every one is), at once, and
   * takes the largest committed offset among the answers. Fails only when none answers.
   */
  async read(queue: MessageQueue): Promise<number | undefined> {
    const candidates = await this.candidates(queue);
    const healthy = candidates.filter((c) => !this.context.suspicion.isSuspect(c.address));
    const asked = healthy.length > 0 ? healthy : candidates;
    const answers = await Promise.allSettled(
      asked.map(async ({ address }) => {
        const answer = await this.context.connections.call(
          address,
          BrokerService.queryOffset,
          { consumerGroup: this.group, topic: queue.topic, queueId: queue.queueId },
          { deadlineMs: this.context.requestTimeoutMs },
        );
        return answer.found ? Number(answer.queueOffset) : undefined;
      }),
    );
    const offsets: Array<number | undefined> = [];
    let last: unknown;
    for (const answer of answers) {
      if (answer.status === 'fulfilled') {
        offsets.push(answer.value);
        continue;
      }
      if (!isUnreachable(codeOf(answer.reason))) throw answer.reason;
      last = answer.reason;
    }
    if (offsets.length === 0) {
      this.context.routes.refreshSoon(queue.topic);
      throw last;
    }
    return reconcileOffsets(offsets);
  }

  /** Commits to the master; when it is unreachable or not in the route, to the first slave that answers. */
  async write(queue: MessageQueue, offset: number): Promise<OffsetPlace> {
    let last: unknown;
    for (const { address, brokerId } of await this.candidates(queue)) {
      try {
        await this.context.connections.call(
          address,
          BrokerService.commitOffset,
          { consumerGroup: this.group, topic: queue.topic, queueId: queue.queueId, queueOffset: offset },
          { deadlineMs: this.context.requestTimeoutMs },
        );
        return offsetPlace(brokerId);
      } catch (err) {
        if (!isUnreachable(codeOf(err))) throw err;
        last = err;
      }
    }
    this.context.routes.refreshSoon(queue.topic);
    throw last;
  }

  async flush(): Promise<void> {
    // Every write went to a broker already.
  }

  private async candidates(queue: MessageQueue): Promise<BrokerCandidate[]> {
    const route = await this.context.routes.get(queue.topic);
    const candidates = brokerOrder(route, queue.brokerName, (address) => this.context.suspicion.isSuspect(address));
    if (candidates.length === 0) {
      this.context.routes.refreshSoon(queue.topic);
      throw new ConveyorError(ErrorCode.NO_ROUTE, `no live broker of group '${queue.brokerName}' serves topic '${queue.topic}'`, { topic: queue.topic, broker: queue.brokerName });
    }
    return candidates;
  }
}
