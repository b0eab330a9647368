import { describe, expect, it } from 'vitest';
import { ProcessQueue } from '../../../../client/consumer/process-queue.js';
import { BrokerSuspicion, betterBrokerListed, brokerOrder, isListed, offsetPlace, outOfRangeAction, reconcileOffsets } from '../../../../client/routing/read-target.js';
import type { TopicRoute } from '../../../../client/routing/route.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 5_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function route(brokers: Record<string, Array<[number, string]>>): TopicRoute {
  return {
    topic: 'orders',
    queues: Object.keys(brokers).map((brokerName) => ({ brokerName, readQueueCount: 4, writeQueueCount: 4, perm: 6 })),
    brokers: Object.entries(brokers).map(([brokerName, addresses]) => ({ clusterName: 'C', brokerName, addresses: addresses.map(([brokerId, address]) => ({ brokerId, address })) })),
  };
}

const none = (): boolean => false;

describe('which broker of a group a consumer reads from and commits to', () => {
  it('asks the master first, then the slaves by id', () => {
    const r = route({ 'broker-a': [[2, 'a2:1'], [0, 'a0:1'], [1, 'a1:1']], 'broker-b': [[0, 'b0:1']] });
    expect(brokerOrder(r, 'broker-a', none).map((c) => c.address)).toEqual(['a0:1', 'a1:1', 'a2:1']);
    expect(brokerOrder(r, 'broker-a', none)[0]?.brokerId).toBe(0);
  });

  it('reads from the slave when the master is gone from the route', () => {
    const r = route({ 'broker-a': [[1, 'a1:1']] });
    expect(brokerOrder(r, 'broker-a', none)).toEqual([{ address: 'a1:1', brokerId: 1 }]);
  });

  it('tries a master suspected dead only after its slaves, but still tries it', () => {
    const r = route({ 'broker-a': [[0, 'a0:1'], [1, 'a1:1']] });
    expect(brokerOrder(r, 'broker-a', (a) => a === 'a0:1').map((c) => c.address)).toEqual(['a1:1', 'a0:1']);
    // Every broker suspected: the usual order, so the master is asked first again.
    expect(brokerOrder(r, 'broker-a', () => true).map((c) => c.address)).toEqual(['a0:1', 'a1:1']);
  });

  it('knows no broker for a group the route does not list', () => {
    expect(brokerOrder(route({ 'broker-b': [[0, 'b0:1']] }), 'broker-a', none)).toEqual([]);
  });

  it('tells whether an address is still listed for its group', () => {
    const r = route({ 'broker-a': [[0, 'a0:1'], [1, 'a1:1']], 'broker-b': [[0, 'b0:1']] });
    expect(isListed(r, 'broker-a', 'a1:1')).toBe(true);
    expect(isListed(r, 'broker-a', 'b0:1')).toBe(false);
    expect(isListed(undefined, 'broker-a', 'a0:1')).toBe(false);
  });

  it('moves a read held at a slave back to the master once the master is listed and not suspected', () => {
    const slave = { address: 'a1:1', brokerId: 1 };
    expect(betterBrokerListed(route({ 'broker-a': [[0, 'a0:1'], [1, 'a1:1']] }), 'broker-a', slave, none)).toBe(true);
    expect(betterBrokerListed(route({ 'broker-a': [[0, 'a0:1'], [1, 'a1:1']] }), 'broker-a', slave, (a) => a === 'a0:1')).toBe(false);
    expect(betterBrokerListed(route({ 'broker-a': [[1, 'a1:1']] }), 'broker-a', slave, none)).toBe(false);
    // A read held at the master stays there.
    expect(betterBrokerListed(route({ 'broker-a': [[0, 'a0:1'], [1, 'a1:1']] }), 'broker-a', { address: 'a0:1', brokerId: 0 }, none)).toBe(false);
  });

  it('calls a commit on the master home and one on a slave a stand-in', () => {
    expect(offsetPlace(0)).toBe('home');
    expect(offsetPlace(1)).toBe('stand-in');
  });
});

describe('suspected broker addresses', () => {
  it('suspects an unreachable address for the suspicion time, then trusts it again', () => {
    const c = clock();
    const suspicion = new BrokerSuspicion({ now: c.now, suspectMs: 5_000 });
    suspicion.recordUnreachable('a0:1');
    expect(suspicion.isSuspect('a0:1')).toBe(true);
    expect(suspicion.isSuspect('a1:1')).toBe(false);
    c.advance(4_999);
    expect(suspicion.isSuspect('a0:1')).toBe(true);
    c.advance(1);
    expect(suspicion.isSuspect('a0:1')).toBe(false);
  });

  it('clears the suspicion as soon as the address answers', () => {
    const c = clock();
    const suspicion = new BrokerSuspicion({ now: c.now });
    suspicion.recordUnreachable('a0:1');
    suspicion.recordAnswer('a0:1');
    expect(suspicion.isSuspect('a0:1')).toBe(false);
  });

  it('extends the suspicion with every new failure', () => {
    const c = clock();
    const suspicion = new BrokerSuspicion({ now: c.now, suspectMs: 1_000 });
    suspicion.recordUnreachable('a0:1');
    c.advance(900);
    suspicion.recordUnreachable('a0:1');
    c.advance(900);
    expect(suspicion.isSuspect('a0:1')).toBe(true);
  });
});

describe('offset reconciliation between master and slave', () => {
  it('takes the largest committed offset among the answers', () => {
    expect(reconcileOffsets([120, 340])).toBe(340);
    expect(reconcileOffsets([340, 120])).toBe(340);
    expect(reconcileOffsets([undefined, 75])).toBe(75);
  });

  it('has no offset when no broker holds one', () => {
    expect(reconcileOffsets([undefined, undefined])).toBeUndefined();
    expect(reconcileOffsets([])).toBeUndefined();
  });

  it('keeps committing a queue whose last commit went to a slave, even when its offset has not moved', () => {
    const processQueue = new ProcessQueue({ topic: 'orders', brokerName: 'broker-a', queueId: 0 }, 10, 100);
    processQueue.received([10, 11], 12);
    processQueue.complete(10);
    processQueue.complete(11);
    processQueue.lastCommitted = 12;
    processQueue.lastCommitAtHome = false;
    expect(processQueue.needsCommit()).toBe(true);
    processQueue.lastCommitAtHome = true;
    expect(processQueue.needsCommit()).toBe(false);
  });
});

describe('what a consumer does with OFFSET_OUT_OF_RANGE', () => {
  it('keeps its position and waits when a slave has not copied that far yet', () => {
    expect(outOfRangeAction(105, 0, 100, 1)).toEqual({ kind: 'wait' });
  });

  it('moves to the end when the master itself is shorter than the position', () => {
    expect(outOfRangeAction(105, 0, 100, 0)).toEqual({ kind: 'seek', offset: 100 });
    expect(outOfRangeAction(105, 0, 100, undefined)).toEqual({ kind: 'seek', offset: 100 });
  });

  it('moves to the minimum when retention deleted the position, on master or slave', () => {
    expect(outOfRangeAction(3, 50, 100, 1)).toEqual({ kind: 'seek', offset: 50 });
    expect(outOfRangeAction(3, 50, 100, 0)).toEqual({ kind: 'seek', offset: 50 });
  });
});
