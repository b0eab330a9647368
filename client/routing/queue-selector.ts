// Which queue a send goes to (pure). Plain sends go round-robin over the writable queues of live
// masters, stepping around brokers that fault avoidance has isolated and, on a retry, around the
// broker that just failed. Ordered sends pick the queue from a sharding key and never hop.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { MessageQueue } from './route.js';

/**
 * Round-robin position for one topic. Starts at a random point so that many producers started at
 * once do not all hit queue 0 of the first broker.
 */
export class QueueSelector {
  private position: number;

  constructor(start: number = Math.floor(Math.random() * 1024)) {
    this.position = start;
  }

  /**
   * The next queue in turn whose broker is available and is not `excludeBroker`. If every
   * broker is isolated, the next queue not on `excludeBroker`; if only `excludeBroker` is left,
   * the next queue. Undefined only for an empty list.
   */
  select(queues: readonly MessageQueue[], isAvailable: (brokerName: string) => boolean, excludeBroker?: string): MessageQueue | undefined {
    const count = queues.length;
    if (count === 0) return undefined;
    const passes: Array<(q: MessageQueue) => boolean> = [
      (q) => q.brokerName !== excludeBroker && isAvailable(q.brokerName),
      (q) => q.brokerName !== excludeBroker,
      () => true,
    ];
    for (const accept of passes) {
      for (let step = 0; step < count; step++) {
        const index = (this.position + step) % count;
        const queue = queues[index];
        if (queue !== undefined && accept(queue)) {
          this.position = (index + 1) % count;
          return queue;
        }
      }
    }
    return undefined;
  }
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of the key: stable across processes and versions. */
export function shardingHash(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * The queue for an ordered send: hash(key) mod the number of writable queues, over the sorted
 * queue list. The same key maps to the same queue as long as the topic's writable queues do not
 * change (adding queues or losing a master moves keys, as in RocketMQ).
 */
export function shardQueue(queues: readonly MessageQueue[], shardingKey: string): MessageQueue {
  if (shardingKey.length === 0) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'ordered send needs a non-empty sharding key', {});
  }
  const queue = queues[shardingHash(shardingKey) % Math.max(queues.length, 1)];
  if (queue === undefined) {
    throw new ConveyorError(ErrorCode.NO_ROUTE, 'no writable queue on a live master for this topic', {});
  }
  return queue;
}
