import { describe, expect, it } from 'vitest';
import { Discovery, type NameserverTransport } from '../../../../client/routing/discovery.js';
import { ROUTE_CACHE_TOPICS_MAX, RouteCache } from '../../../../client/routing/route-cache.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import type { ClientMethod } from '../../../../common/grpc.js';

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

  it('evicts the topic used least recently past its bound, counting uses through getCached', async () => {
    const ns = nameserver();
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport));
    for (let i = 0; i < ROUTE_CACHE_TOPICS_MAX; i++) await cache.get(`t${i}`);
    expect(cache.getCached('t0')).toBeDefined(); // t0 is now the most recent, t1 the least
    expect(cache.getCached('t0')).toBeDefined(); // used again while newest: still the most recent
    await cache.get('new-1');
    expect(cache.peek('t1')).toBeUndefined();
    expect(cache.peek('t0')).toBeDefined();
    expect(cache.getCached('t2')).toBeDefined(); // t2 moves to the end; t3 is now the least recent
    await cache.get('new-2');
    expect(cache.peek('t3')).toBeUndefined();
    expect(cache.peek('t2')).toBeDefined();
    await cache.get('new-3');
    expect(cache.peek('t4')).toBeUndefined();
    expect([cache.peek('t0'), cache.peek('t2'), cache.peek('t5')].every((r) => r !== undefined)).toBe(true);
  });

  it('counts a getCached use after another topic was stored as the most recent one', async () => {
    const ns = nameserver();
    const cache = new RouteCache(new Discovery({ nameservers: '127.0.0.1:1' }, ns.transport));
    for (let i = 0; i < ROUTE_CACHE_TOPICS_MAX; i++) await cache.get(`t${i}`);
    cache.getCached('t0');
    await cache.get('new-1'); // evicts t1
    cache.getCached('t0'); // t0 goes after new-1
    for (let i = 2; i < ROUTE_CACHE_TOPICS_MAX; i++) await cache.get(`x${i}`); // evicts t2 … t9999
    await cache.get('y');
    expect(cache.peek('new-1')).toBeUndefined();
    expect(cache.peek('t0')).toBeDefined();
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
