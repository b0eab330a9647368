// Where a consumer group's offsets live. Clustering: on the broker group that serves the queue
// (CommitOffset / QueryOffset to its master; read from a slave when the master is gone).
// Broadcasting: in a local file per member (local-offset-store.ts).
import { BrokerService } from '../proto/index.js';
import type { ClientContext } from './client-context.js';
import { codeOf, isUnreachable } from './retry-policy.js';
import { masterAddress, readAddresses, type MessageQueue } from './route.js';
import { ConveyorError, ErrorCode } from '../common/errors.js';

export interface OffsetStore {
  /** The committed offset ("everything below is done"), or undefined if the group has none. */
  read(queue: MessageQueue): Promise<number | undefined>;
  /** Records that everything below `offset` is done. */
  write(queue: MessageQueue, offset: number): Promise<void>;
  /** Makes earlier writes durable (the local store writes its file). */
  flush(): Promise<void>;
}

export class BrokerOffsetStore implements OffsetStore {
  constructor(private readonly context: ClientContext, private readonly group: string) {}

  async read(queue: MessageQueue): Promise<number | undefined> {
    const route = await this.context.routes.get(queue.topic);
    const addresses = readAddresses(route, queue.brokerName);
    let last: unknown = new ConveyorError(ErrorCode.NO_ROUTE, `no live broker of group '${queue.brokerName}' serves topic '${queue.topic}'`, { topic: queue.topic, broker: queue.brokerName });
    for (const address of addresses) {
      try {
        const answer = await this.context.connections.call(
          address,
          BrokerService.queryOffset,
          { consumerGroup: this.group, topic: queue.topic, queueId: queue.queueId },
          { deadlineMs: this.context.requestTimeoutMs },
        );
        return answer.found ? Number(answer.queueOffset) : undefined;
      } catch (err) {
        if (!isUnreachable(codeOf(err))) throw err;
        last = err;
      }
    }
    this.context.routes.refreshSoon(queue.topic);
    throw last;
  }

  async write(queue: MessageQueue, offset: number): Promise<void> {
    const route = await this.context.routes.get(queue.topic);
    const address = masterAddress(route, queue.brokerName);
    if (address === undefined) {
      // The master is gone: the offset is committed on a later interval, once it is back.
      throw new ConveyorError(ErrorCode.NO_ROUTE, `broker group '${queue.brokerName}' has no live master to commit offsets to`, { topic: queue.topic, broker: queue.brokerName });
    }
    await this.context.connections.call(
      address,
      BrokerService.commitOffset,
      { consumerGroup: this.group, topic: queue.topic, queueId: queue.queueId, queueOffset: offset },
      { deadlineMs: this.context.requestTimeoutMs },
    );
  }

  async flush(): Promise<void> {
    // Every write went to the broker already.
  }
}
