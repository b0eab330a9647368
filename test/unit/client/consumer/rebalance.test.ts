import { describe, expect, it } from 'vitest';
import { allocateAveragely, diffAssignment } from '../../../../client/consumer/rebalance.js';
import { queueKey, type MessageQueue } from '../../../../client/routing/route.js';

function queues(topic: string, brokers: string[], perBroker: number): MessageQueue[] {
  return brokers.flatMap((brokerName) => Array.from({ length: perBroker }, (_, queueId) => ({ topic, brokerName, queueId })));
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('averaging allocation', () => {
  it('gives every member a disjoint share that together covers every queue', () => {
    for (const memberCount of [1, 2, 3, 4, 5, 7, 16, 20]) {
      const all = queues('t', ['broker-a', 'broker-b'], 8);
      const members = Array.from({ length: memberCount }, (_, i) => `client-${i}`);
      const shares = members.map((m) => allocateAveragely(all, members, m).map(queueKey));
      const union = shares.flat();
      expect(new Set(union).size).toBe(union.length);
      expect(new Set(union)).toEqual(new Set(all.map(queueKey)));
      const sizes = shares.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('computes the same answer on every member whatever order the inputs arrive in', () => {
    const all = queues('t', ['broker-a', 'broker-b'], 8);
    const members = ['c', 'a', 'b'];
    for (const member of members) {
      const reference = allocateAveragely(all, members, member).map(queueKey);
      for (let seed = 1; seed < 20; seed++) {
        expect(allocateAveragely(shuffled(all, seed), shuffled(members, seed + 7), member).map(queueKey)).toEqual(reference);
      }
    }
  });

  it('hands out contiguous blocks of the sorted queues, larger blocks first (as RocketMQ)', () => {
    const all = queues('t', ['broker-a', 'broker-b'], 8);
    const members = ['m1', 'm2', 'm3'];
    expect(allocateAveragely(all, members, 'm1').map(queueKey)).toEqual([...Array(6).keys()].map((i) => `t@broker-a#${i}`));
    expect(allocateAveragely(all, members, 'm2').map(queueKey)).toEqual(['t@broker-a#6', 't@broker-a#7', 't@broker-b#0', 't@broker-b#1', 't@broker-b#2']);
    expect(allocateAveragely(all, members, 'm3').map(queueKey)).toEqual(['t@broker-b#3', 't@broker-b#4', 't@broker-b#5', 't@broker-b#6', 't@broker-b#7']);
  });

  it('gives nothing to a member missing from the list and to members beyond the queue count', () => {
    const all = queues('t', ['broker-a'], 2);
    expect(allocateAveragely(all, ['a', 'b'], 'z')).toEqual([]);
    expect(allocateAveragely(all, ['a', 'b', 'c'], 'c')).toEqual([]);
    expect(allocateAveragely([], ['a'], 'a')).toEqual([]);
  });

  it('reports which queues to start and which to stop', () => {
    const all = queues('t', ['broker-a'], 4);
    const change = diffAssignment(all.slice(0, 3), all.slice(2));
    expect(change.added.map(queueKey)).toEqual(['t@broker-a#3']);
    expect(change.removed.map(queueKey)).toEqual(['t@broker-a#0', 't@broker-a#1']);
  });
});
