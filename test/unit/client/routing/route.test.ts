import { describe, expect, it } from 'vitest';
import { allAddresses, masterAddress, queueKey, readableQueues, readAddresses, routeFromWire, writableQueues, writableQueuesOf } from '../../../../client/routing/route.js';

const route = routeFromWire('t', {
  topic: 't',
  queues: [
    { brokerName: 'broker-b', readQueueCount: 2, writeQueueCount: 2, perm: 6 },
    { brokerName: 'broker-a', readQueueCount: 3, writeQueueCount: 2, perm: 6 },
    { brokerName: 'broker-c', readQueueCount: 1, writeQueueCount: 1, perm: 6 },
    { brokerName: 'broker-d', readQueueCount: 1, writeQueueCount: 1, perm: 4 },
  ],
  brokers: [
    { clusterName: 'C', brokerName: 'broker-a', addresses: [{ brokerId: 1, address: 'a1:1' }, { brokerId: 0, address: 'a0:1' }] },
    { clusterName: 'C', brokerName: 'broker-b', addresses: [{ brokerId: 0, address: 'b0:1' }] },
    // broker-c's master is gone: only its slave is left.
    { clusterName: 'C', brokerName: 'broker-c', addresses: [{ brokerId: 1, address: 'c1:1' }] },
    { clusterName: 'C', brokerName: 'broker-d', addresses: [{ brokerId: 0, address: 'd0:1' }] },
  ],
});

describe('route views', () => {
  it('sends only to writable queues of broker groups with a live master, sorted', () => {
    expect(writableQueues(route).map(queueKey)).toEqual(['t@broker-a#0', 't@broker-a#1', 't@broker-b#0', 't@broker-b#1']);
  });

  it('keeps one shared, frozen writable list per route object, and a fetched-again route gets its own', () => {
    const first = writableQueuesOf(route);
    expect(first.map(queueKey)).toEqual(writableQueues(route).map(queueKey));
    expect(writableQueuesOf(route)).toBe(first);
    expect(Object.isFrozen(first) && first.every((q) => Object.isFrozen(q))).toBe(true);
    // The route cache replaces the route when it fetches it again: broker-b now has 3 write queues,
    // broker-a's master is gone.
    const refetched = routeFromWire('t', {
      topic: 't',
      queues: [
        { brokerName: 'broker-b', readQueueCount: 3, writeQueueCount: 3, perm: 6 },
        { brokerName: 'broker-a', readQueueCount: 3, writeQueueCount: 2, perm: 6 },
      ],
      brokers: [
        { clusterName: 'C', brokerName: 'broker-a', addresses: [{ brokerId: 1, address: 'a1:1' }] },
        { clusterName: 'C', brokerName: 'broker-b', addresses: [{ brokerId: 0, address: 'b0:1' }] },
      ],
    });
    expect(writableQueuesOf(refetched).map(queueKey)).toEqual(['t@broker-b#0', 't@broker-b#1', 't@broker-b#2']);
    expect(writableQueuesOf(route)).toBe(first);
  });

  it('reads every readable queue that some broker (master or slave) can serve', () => {
    expect(readableQueues(route).map(queueKey)).toEqual(['t@broker-a#0', 't@broker-a#1', 't@broker-a#2', 't@broker-b#0', 't@broker-b#1', 't@broker-c#0', 't@broker-d#0']);
  });

  it('reads from the master first, then slaves', () => {
    expect(masterAddress(route, 'broker-a')).toBe('a0:1');
    expect(masterAddress(route, 'broker-c')).toBeUndefined();
    expect(readAddresses(route, 'broker-a')).toEqual(['a0:1', 'a1:1']);
    expect(allAddresses(route)).toEqual(['a0:1', 'a1:1', 'b0:1', 'c1:1', 'd0:1']);
  });
});
