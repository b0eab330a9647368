// Pulls that found nothing and wait for their queue to grow (long polling). Pure bookkeeping: the
// pull service owns the timers and the gRPC call; this table only says whom to wake when the
// store reports that a queue grew, and forgets waiters that time out or are cancelled.
import { ConveyorError, ErrorCode, assert } from '../../common/errors.js';

/** Most pulls held at once on one broker: each holds a gRPC call and a timer. */
const LONG_POLL_WAITERS_MAX = 10_000;
/** Most pulls held on one queue: in clustering mode one member reads a queue, so a few suffice. */
const LONG_POLL_WAITERS_PER_QUEUE_MAX = 1_000;

export interface Waiter {
  readonly topic: string;
  readonly queueId: number;
  /** The offset the pull asked for: it is woken once the queue's max offset passes it. */
  readonly queueOffset: number;
  /** Called once, when the queue grew past queueOffset or on wakeAll. */
  readonly wake: () => void;
}

interface WaiterHandle {
  readonly key: string;
  readonly id: number;
}

function queueKey(topic: string, queueId: number): string {
  return `${topic}\u0000${queueId}`;
}

export class LongPollTable {
  readonly waitersMax: number;
  readonly waitersPerQueueMax: number;
  private readonly queues = new Map<string, Map<number, Waiter>>();
  private nextId = 1;
  private count = 0;

  constructor(options: { waitersMax?: number; waitersPerQueueMax?: number } = {}) {
    this.waitersMax = options.waitersMax ?? LONG_POLL_WAITERS_MAX;
    this.waitersPerQueueMax = options.waitersPerQueueMax ?? LONG_POLL_WAITERS_PER_QUEUE_MAX;
    assert(this.waitersMax >= 1 && this.waitersPerQueueMax >= 1, 'long-poll bounds must be positive');
  }

  /** Number of pulls waiting. */
  get size(): number {
    return this.count;
  }

  /** Registers a waiting pull; throws SERVICE_UNAVAILABLE when a bound is reached. */
  add(waiter: Waiter): WaiterHandle {
    const key = queueKey(waiter.topic, waiter.queueId);
    let waiters = this.queues.get(key);
    if (this.count >= this.waitersMax || (waiters?.size ?? 0) >= this.waitersPerQueueMax) {
      throw new ConveyorError(
        ErrorCode.SERVICE_UNAVAILABLE,
        `too many pulls are waiting (${this.count} on this broker, limit ${this.waitersMax}; ${waiters?.size ?? 0} on queue ${waiter.topic}/${waiter.queueId}, limit ${this.waitersPerQueueMax}); pull again shortly`,
        { topic: waiter.topic, queueId: waiter.queueId },
      );
    }
    if (waiters === undefined) {
      waiters = new Map();
      this.queues.set(key, waiters);
    }
    const id = this.nextId++;
    waiters.set(id, waiter);
    this.count += 1;
    return { key, id };
  }

  /** Forgets a waiter (timed out or cancelled). Returns whether it was still waiting. */
  remove(handle: WaiterHandle): boolean {
    const waiters = this.queues.get(handle.key);
    if (waiters === undefined || !waiters.delete(handle.id)) return false;
    this.count -= 1;
    if (waiters.size === 0) this.queues.delete(handle.key);
    return true;
  }

  /** The queue now ends at `maxQueueOffset`: wakes (and forgets) every waiter below it. */
  notify(topic: string, queueId: number, maxQueueOffset: number): number {
    const key = queueKey(topic, queueId);
    const waiters = this.queues.get(key);
    if (waiters === undefined) return 0;
    const woken: Waiter[] = [];
    for (const [id, waiter] of waiters) {
      if (waiter.queueOffset < maxQueueOffset) {
        waiters.delete(id);
        woken.push(waiter);
      }
    }
    this.count -= woken.length;
    if (waiters.size === 0) this.queues.delete(key);
    for (const waiter of woken) waiter.wake();
    return woken.length;
  }

  /** Wakes every waiter (shutdown: answer held pulls now). */
  wakeAll(): number {
    const woken = [...this.queues.values()].flatMap((waiters) => [...waiters.values()]);
    this.queues.clear();
    this.count = 0;
    for (const waiter of woken) waiter.wake();
    return woken.length;
  }
}
