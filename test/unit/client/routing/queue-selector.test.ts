import { describe, expect, it } from 'vitest';
import { QueueSelector, shardingHash, shardQueue } from '../../../../client/routing/queue-selector.js';
import { queueKey, type MessageQueue } from '../../../../client/routing/route.js';
import { ErrorCode } from '../../../../common/errors.js';

const all: MessageQueue[] = ['broker-a', 'broker-b'].flatMap((brokerName) => [0, 1, 2].map((queueId) => ({ topic: 't', brokerName, queueId })));
const always = (): boolean => true;

describe('queue selector', () => {
  it('goes round-robin over every writable queue', () => {
    const selector = new QueueSelector(0);
    const picked = Array.from({ length: 12 }, () => queueKey(selector.select(all, always) as MessageQueue));
    expect(picked.slice(0, 6)).toEqual(all.map(queueKey));
    expect(picked.slice(6)).toEqual(all.map(queueKey));
  });

  it('steps around isolated brokers and, on a retry, around the broker that just failed', () => {
    const selector = new QueueSelector(0);
    const noA = (b: string): boolean => b !== 'broker-a';
    for (let i = 0; i < 10; i++) expect(selector.select(all, noA)?.brokerName).toBe('broker-b');
    for (let i = 0; i < 10; i++) expect(selector.select(all, always, 'broker-b')?.brokerName).toBe('broker-a');
  });

  it('still picks a queue when every broker is isolated, preferring one that did not just fail', () => {
    const selector = new QueueSelector(0);
    const none = (): boolean => false;
    expect(selector.select(all, none, 'broker-a')?.brokerName).toBe('broker-b');
    const onlyA = all.filter((q) => q.brokerName === 'broker-a');
    expect(selector.select(onlyA, none, 'broker-a')?.brokerName).toBe('broker-a');
    expect(selector.select([], always)).toBeUndefined();
  });

  it('sends one sharding key to one queue every time, and spreads many keys over all queues', () => {
    const first = shardQueue(all, 'order-42');
    for (let i = 0; i < 20; i++) expect(shardQueue(all, 'order-42')).toEqual(first);
    // Sorting is the caller's job; the queue for a key is a function of the sorted list.
    expect(queueKey(shardQueue(all, 'order-42'))).toBe(queueKey(all[shardingHash('order-42') % all.length] as MessageQueue));
    const used = new Set(Array.from({ length: 200 }, (_, i) => queueKey(shardQueue(all, `key-${i}`))));
    expect(used.size).toBe(all.length);
  });

  it('hashes keys with FNV-1a over UTF-8 (stable across processes)', () => {
    expect(shardingHash('')).toBe(0x811c9dc5);
    expect(shardingHash('a')).toBe(0xe40c292c);
    expect(shardingHash('foobar')).toBe(0xbf9cf968);
  });

  it('refuses an empty sharding key and a topic with no writable queue', () => {
    expect(() => shardQueue(all, '')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => shardQueue([], 'k')).toThrow(expect.objectContaining({ code: ErrorCode.NO_ROUTE }));
  });
});
