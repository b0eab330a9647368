import { describe, expect, it } from 'vitest';
import { Discovery, type NameserverTransport } from '../../../client/discovery.js';
import { RouteCache } from '../../../client/route-cache.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import type { ClientMethod } from '../../../common/grpc.js';

/** A nameserver stand-in whose answer the test changes: a route, TOPIC_NOT_FOUND, or down. */
function nameserver(): { transport: NameserverTransport; state: { mode: 'route' | 'missing' | 'down'; queues: number; calls: number } } {
  const state = { mode: 'route' as 'route' | 'missing' | 'down', queues: 4, calls: 0 };
  const transport: NameserverTransport = async <Req, Res>(_address: string, _method: ClientMethod<Req, Res>, request: Req): Promise<Res> => {
    state.calls++;
    if (state.mode === 'down') throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, 'down', {});
    if (state.mode === 'missing') throw new ConveyorError(ErrorCode.TOPIC_NOT_FOUND, 'no such topic', {});
    const topic = (request as { topic: string }).topic;
    return {
      topic,
      queues: [{ brokerName: 'broker-a', readQueueCount: state.queues, writeQueueCount: state.queues, perm: 6 }],
      brokers: [{ clusterName: 'C', brokerName: 'broker-a', addresses: [{ brokerId: 0, address: 'a:1' }] }],
    } as unknown as Res;
  };
  return { transport, state };
}

describe('route cache', () => {
  it('fetches a route once and serves it from the cache after that', async () => {
    const ns = nameserver();
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport));
    const [a, b] = await Promise.all([cache.get('t'), cache.get('t')]);
    expect(a).toBe(b);
    await cache.get('t');
    expect(ns.state.calls).toBe(1);
    expect(a.queues[0]?.writeQueueCount).toBe(4);
  });

  it('keeps serving the last known route while no nameserver answers', async () => {
    const ns = nameserver();
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport));
    await cache.get('t');
    ns.state.mode = 'down';
    expect((await cache.refresh('t')).queues[0]?.writeQueueCount).toBe(4);
    await expect(cache.get('other')).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
  });

  it('takes a changed route on refresh and forgets a deleted topic', async () => {
    const ns = nameserver();
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport));
    await cache.get('t');
    ns.state.queues = 8;
    expect((await cache.refresh('t')).queues[0]?.writeQueueCount).toBe(8);
    ns.state.mode = 'missing';
    await expect(cache.refresh('t')).rejects.toMatchObject({ code: ErrorCode.TOPIC_NOT_FOUND });
    expect(cache.peek('t')).toBeUndefined();
  });

  it('answers getCached from the cache only, without a lookup, and with the route a refresh stored', async () => {
    const ns = nameserver();
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport));
    expect(cache.getCached('t')).toBeUndefined();
    expect(ns.state.calls).toBe(0);
    const fetched = await cache.get('t');
    expect(cache.getCached('t')).toBe(fetched);
    ns.state.queues = 8;
    const refreshed = await cache.refresh('t');
    expect(cache.getCached('t')).toBe(refreshed);
    expect(cache.getCached('t')?.queues[0]?.writeQueueCount).toBe(8);
    expect(ns.state.calls).toBe(2);
  });

  it('re-fetches after an error at most once per short interval', async () => {
    const ns = nameserver();
    let now = 0;
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport), { now: () => now });
    await cache.get('t');
    cache.refreshSoon('t');
    expect(ns.state.calls).toBe(1);
    now = 10_000;
    cache.refreshSoon('t');
    await expect.poll(() => ns.state.calls).toBe(2);
  });
});
