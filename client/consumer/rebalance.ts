// Queue allocation for clustering consumption (pure). Every member computes its own share from
// the same inputs — the topic's readable queues and the group's live member ids — sorted the same
// way, so members agree without talking to each other. The strategy is RocketMQ's
// AllocateMessageQueueAveragely: contiguous blocks, the first (queues mod members) members get
// one queue more.
import { compareQueues, queueKey, type MessageQueue } from '../routing/route.js';

/**
 * The queues `memberId` owns. Empty when the member is not in the list (it has not been seen by
 * the broker yet) or there are no queues; with more members than queues the last members get none.
 */
export function allocateAveragely(queues: readonly MessageQueue[], members: readonly string[], memberId: string): MessageQueue[] {
  const sortedQueues = [...queues].sort(compareQueues);
  const sortedMembers = [...new Set(members)].sort();
  const index = sortedMembers.indexOf(memberId);
  const queueCount = sortedQueues.length;
  const memberCount = sortedMembers.length;
  if (index < 0 || queueCount === 0) return [];
  const remainder = queueCount % memberCount;
  const base = Math.floor(queueCount / memberCount);
  const size = index < remainder ? base + 1 : base;
  const start = index < remainder ? index * (base + 1) : index * base + remainder;
  return sortedQueues.slice(start, start + size);
}

/** What changes when a member moves from `current` to `next`: queues to start and to stop. */
interface AssignmentChange {
  readonly added: MessageQueue[];
  readonly removed: MessageQueue[];
}

export function diffAssignment(current: readonly MessageQueue[], next: readonly MessageQueue[]): AssignmentChange {
  const currentKeys = new Set(current.map(queueKey));
  const nextKeys = new Set(next.map(queueKey));
  return {
    added: next.filter((q) => !currentKeys.has(queueKey(q))),
    removed: current.filter((q) => !nextKeys.has(queueKey(q))),
  };
}
