import { describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import { BROKERS_MAX, QUEUE_COUNT_MAX, RouteTable, type BrokerRegistration, type TopicLayout } from '../../../nameserver/route-table.js';

const EXPIRY_MS = 30_000;

function setup(): { table: RouteTable; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const table = new RouteTable({ brokerExpiryMs: EXPIRY_MS, now: () => clock.now });
  return { table, clock };
}

function topic(topicName: string, queues = 4, perm = 6): TopicLayout {
  return { topicName, readQueueCount: queues, writeQueueCount: queues, perm, ordered: false };
}

function broker(brokerName: string, brokerId: number, overrides: Partial<BrokerRegistration> = {}): BrokerRegistration {
  const port = 10_000 + brokerName.length * 100 + brokerId;
  return {
    clusterName: 'DefaultCluster',
    brokerName,
    brokerId,
    brokerAddress: `${brokerName}.local:${port}`,
    haAddress: `${brokerName}.local:${port + 50}`,
    httpAddress: `${brokerName}.local:${port + 60}`,
    topics: [topic('orders')],
    dataVersion: { epoch: 1, timestampMs: 1, counter: 1 },
    ...overrides,
  };
}

function thrown(fn: () => unknown): ConveyorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConveyorError) return err;
    throw err;
  }
  throw new Error('expected a ConveyorError, nothing was thrown');
}

/** Everything observable about the table, to prove a rejected request changed nothing. */
function snapshot(table: RouteTable): unknown {
  const routes = table.topicList().map((t) => table.route(t));
  return { brokers: table.liveBrokers(), topics: table.topicList(), routes, stats: table.stats() };
}

describe('RouteTable registration', () => {
  it('serves a registered master as the route of its topics', () => {
    const { table } = setup();
    const result = table.register(broker('broker-a', 0, { topics: [topic('orders', 8)] }));
    expect(result).toEqual({ change: 'new', masterAddress: 'broker-a.local:10800', masterHaAddress: 'broker-a.local:10850' });
    expect(table.route('orders')).toEqual({
      topic: 'orders',
      queues: [{ brokerName: 'broker-a', readQueueCount: 8, writeQueueCount: 8, perm: 6 }],
      brokers: [{ clusterName: 'DefaultCluster', brokerName: 'broker-a', addresses: [{ brokerId: 0, address: 'broker-a.local:10800' }] }],
    });
    expect(table.topicList()).toEqual(['orders']);
    expect(table.stats()).toEqual({ brokers: 1, brokerGroups: 1, topics: 1 });
  });

  it('merges a topic served by several broker groups into one route sorted by broker name', () => {
    const { table } = setup();
    table.register(broker('broker-c', 0, { topics: [topic('orders', 2), topic('audit', 1)] }));
    table.register(broker('broker-a', 0, { topics: [topic('orders', 4)] }));
    table.register(broker('broker-b', 0, { topics: [topic('payments', 4)] }));
    const route = table.route('orders');
    expect(route.queues.map((q) => [q.brokerName, q.writeQueueCount])).toEqual([['broker-a', 4], ['broker-c', 2]]);
    expect(route.brokers.map((b) => b.brokerName)).toEqual(['broker-a', 'broker-c']);
    expect(table.route('payments').brokers.map((b) => b.brokerName)).toEqual(['broker-b']);
    expect(table.topicList()).toEqual(['audit', 'orders', 'payments']);
  });

  it('lists master and slave addresses of a group sorted by broker id', () => {
    const { table } = setup();
    table.register(broker('broker-a', 2));
    table.register(broker('broker-a', 0));
    table.register(broker('broker-a', 1));
    expect(table.route('orders').brokers).toEqual([
      {
        clusterName: 'DefaultCluster',
        brokerName: 'broker-a',
        addresses: [
          { brokerId: 0, address: 'broker-a.local:10800' },
          { brokerId: 1, address: 'broker-a.local:10801' },
          { brokerId: 2, address: 'broker-a.local:10802' },
        ],
      },
    ]);
  });

  it("tells a slave its group's master address and ha address, and nothing before the master registers", () => {
    const { table } = setup();
    expect(table.register(broker('broker-a', 1))).toMatchObject({ masterAddress: '', masterHaAddress: '' });
    table.register(broker('broker-a', 0));
    expect(table.register(broker('broker-a', 1))).toMatchObject({ masterAddress: 'broker-a.local:10800', masterHaAddress: 'broker-a.local:10850' });
  });

  it("takes the group's queue layout from the master, not from a slave that disagrees", () => {
    const { table } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders', 8)] }));
    table.register(broker('broker-a', 1, { topics: [topic('orders', 2), topic('stale-on-slave', 1)] }));
    expect(table.route('orders').queues[0]?.writeQueueCount).toBe(8);
    expect(table.topicList()).toEqual(['orders']);
  });

  it('lists live brokers in cluster info sorted by cluster, broker name and broker id', () => {
    const { table, clock } = setup();
    table.register(broker('broker-b', 0, { clusterName: 'Zeta' }));
    table.register(broker('broker-a', 1));
    clock.now += 5;
    table.register(broker('broker-a', 0));
    const info = table.liveBrokers().map((b) => [b.clusterName, b.brokerName, b.brokerId, b.lastUpdateMs]);
    expect(info).toEqual([
      ['DefaultCluster', 'broker-a', 0, 1_000_005],
      ['DefaultCluster', 'broker-a', 1, 1_000_000],
      ['Zeta', 'broker-b', 0, 1_000_000],
    ]);
  });

  it('answers TOPIC_NOT_FOUND naming the topic and how to create it', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0));
    const err = thrown(() => table.route('missing'));
    expect(err.code).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(err.message).toContain("'missing'");
    expect(err.message).toContain('conveyor topic create');
    expect(err.fields).toEqual({ topic: 'missing' });
  });
});

describe('RouteTable data versions', () => {
  const V = { epoch: 1, timestampMs: 5, counter: 3 };

  it('keeps the registered topics and refreshes liveness on a light heartbeat at the same data version', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders')], dataVersion: V }));
    clock.now += EXPIRY_MS;
    const result = table.register(broker('broker-a', 0, { topics: null, dataVersion: { ...V } }));
    expect(result).toEqual({ change: 'heartbeat', masterAddress: 'broker-a.local:10800', masterHaAddress: 'broker-a.local:10850' });
    clock.now += EXPIRY_MS;
    // Live a whole expiry after the first registration: the light heartbeat counted.
    expect(table.topicList()).toEqual(['orders']);
    expect(table.liveBrokers()[0]?.lastUpdateMs).toBe(1_000_000 + EXPIRY_MS);
  });

  it("replaces the group's topics when a full table comes at another data version", () => {
    const { table } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders', 4), topic('old')], dataVersion: V }));
    const result = table.register(broker('broker-a', 0, { topics: [topic('orders', 16), topic('new')], dataVersion: { ...V, counter: 4 } }));
    expect(result.change).toBe('topics-changed');
    expect(table.topicList()).toEqual(['new', 'orders']);
    expect(table.route('orders').queues[0]?.readQueueCount).toBe(16);
    expect(thrown(() => table.route('old')).code).toBe(ErrorCode.TOPIC_NOT_FOUND);
  });

  it('takes a full table at the same data version as it comes (the broker re-sent it)', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders')], dataVersion: V }));
    expect(table.register(broker('broker-a', 0, { topics: [topic('orders'), topic('more')], dataVersion: V })).change).toBe('heartbeat');
    expect(table.topicList()).toEqual(['more', 'orders']);
  });

  it('treats a data version that went backwards (a restarted broker) as a change too', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders')], dataVersion: { epoch: 1, timestampMs: 9, counter: 9 } }));
    table.register(broker('broker-a', 0, { topics: [topic('fresh')], dataVersion: { epoch: 2, timestampMs: 1, counter: 1 } }));
    expect(table.topicList()).toEqual(['fresh']);
  });

  it('asks for the full table on a light heartbeat from an unknown broker (a restarted nameserver), changing nothing', () => {
    const { table } = setup();
    table.register(broker('broker-b', 0, { topics: [topic('payments')] }));
    const before = snapshot(table);
    const result = table.register(broker('broker-a', 0, { topics: null, dataVersion: V }));
    expect(result).toEqual({ change: 'topics-wanted', masterAddress: '', masterHaAddress: '' });
    expect(snapshot(table)).toEqual(before);
  });

  it('asks for the full table on a light heartbeat at another version (a restarted broker: same counter, new epoch), without refreshing liveness', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders')], dataVersion: V }));
    const before = snapshot(table);
    clock.now += EXPIRY_MS;
    const result = table.register(broker('broker-a', 0, { topics: null, dataVersion: { ...V, epoch: 2 } }));
    expect(result.change).toBe('topics-wanted');
    expect(snapshot(table)).toEqual(before);
    // The stale table is not kept alive by light heartbeats it cannot match: it expires.
    clock.now += 1;
    expect(table.topicList()).toEqual([]);
  });

  it('asks an expired broker for its full table instead of reviving it, and names the live master to a slave', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 1, { topics: [topic('orders')], dataVersion: V }));
    clock.now += EXPIRY_MS + 1;
    table.register(broker('broker-a', 0, { topics: [topic('orders')] }));
    const result = table.register(broker('broker-a', 1, { topics: null, dataVersion: V }));
    expect(result).toEqual({ change: 'topics-wanted', masterAddress: 'broker-a.local:10800', masterHaAddress: 'broker-a.local:10850' });
    expect(table.liveBrokers().map((b) => b.brokerId)).toEqual([0]);
    expect(table.register(broker('broker-a', 1, { topics: [topic('orders')], dataVersion: V })).change).toBe('new');
    expect(table.liveBrokers().map((b) => b.brokerId)).toEqual([0, 1]);
  });

  it('still validates a light heartbeat completely', () => {
    const { table } = setup();
    expect(thrown(() => table.register(broker('broker-a', 0, { topics: null, brokerAddress: 'no-port' }))).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('RouteTable expiry', () => {
  it('keeps a broker that heartbeats within the expiry and drops one silent past it, even before a scan', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders')] }));
    table.register(broker('broker-b', 0, { topics: [topic('orders')] }));
    clock.now += EXPIRY_MS - 1;
    table.register(broker('broker-b', 0, { topics: [topic('orders')] }));
    clock.now += 1;
    expect(table.route('orders').brokers.map((b) => b.brokerName)).toEqual(['broker-a', 'broker-b']);
    clock.now += 1;
    expect(table.route('orders').brokers.map((b) => b.brokerName)).toEqual(['broker-b']);
    expect(table.liveBrokers().map((b) => b.brokerName)).toEqual(['broker-b']);
    expect(table.stats()).toEqual({ brokers: 1, brokerGroups: 1, topics: 1 });
  });

  it('removes silent brokers on a scan and returns them', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 0));
    table.register(broker('broker-a', 1));
    clock.now += EXPIRY_MS / 2;
    table.register(broker('broker-a', 1));
    expect(table.expire()).toEqual([]);
    clock.now += EXPIRY_MS / 2 + 1;
    expect(table.expire().map((b) => [b.brokerName, b.brokerId])).toEqual([['broker-a', 0]]);
    expect(table.expire()).toEqual([]);
  });

  it('keeps a group routable from its live slave when the master has expired', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('orders', 8)] }));
    table.register(broker('broker-a', 1, { topics: [topic('orders', 8)] }));
    clock.now += EXPIRY_MS / 2;
    table.register(broker('broker-a', 1, { topics: [topic('orders', 8)] }));
    clock.now += EXPIRY_MS / 2 + 1;
    table.expire();
    expect(table.route('orders')).toEqual({
      topic: 'orders',
      queues: [{ brokerName: 'broker-a', readQueueCount: 8, writeQueueCount: 8, perm: 6 }],
      brokers: [{ clusterName: 'DefaultCluster', brokerName: 'broker-a', addresses: [{ brokerId: 1, address: 'broker-a.local:10801' }] }],
    });
    expect(table.register(broker('broker-a', 1, { topics: [topic('orders', 8)] }))).toMatchObject({ masterAddress: '' });
  });

  it('drops a broker group and its topics once every broker of it has expired', () => {
    const { table, clock } = setup();
    table.register(broker('broker-a', 0, { topics: [topic('only-on-a')] }));
    table.register(broker('broker-a', 1, { topics: [topic('only-on-a')] }));
    table.register(broker('broker-b', 0, { topics: [topic('orders')] }));
    clock.now += EXPIRY_MS / 2;
    table.register(broker('broker-b', 0, { topics: [topic('orders')] }));
    clock.now += EXPIRY_MS / 2 + 1;
    expect(table.topicList()).toEqual(['orders']);
    expect(thrown(() => table.route('only-on-a')).code).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(table.stats()).toEqual({ brokers: 1, brokerGroups: 1, topics: 1 });
  });

  it('takes a broker back with its new topics when it registers again after expiring', () => {
    const { table, clock } = setup();
    const version = { epoch: 1, timestampMs: 7, counter: 7 };
    table.register(broker('broker-a', 0, { topics: [topic('orders')], dataVersion: version }));
    clock.now += EXPIRY_MS + 1;
    expect(table.topicList()).toEqual([]);
    // Same data version, different topics: after expiry the registration counts as new, so the topics are taken.
    const result = table.register(broker('broker-a', 0, { topics: [topic('payments')], dataVersion: version }));
    expect(result.change).toBe('new');
    expect(table.topicList()).toEqual(['payments']);
    expect(table.route('payments').brokers[0]?.addresses).toEqual([{ brokerId: 0, address: 'broker-a.local:10800' }]);
  });
});

describe('RouteTable unregister', () => {
  it('removes the broker at once and leaves the rest of its group', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0));
    table.register(broker('broker-a', 1));
    expect(table.unregister({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 0, brokerAddress: 'broker-a.local:10800' })).toBe(true);
    expect(table.route('orders').brokers[0]?.addresses).toEqual([{ brokerId: 1, address: 'broker-a.local:10801' }]);
    expect(table.unregister({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 1, brokerAddress: '' })).toBe(true);
    expect(table.topicList()).toEqual([]);
    expect(table.stats()).toEqual({ brokers: 0, brokerGroups: 0, topics: 0 });
  });

  it('ignores an unregister from an old address after a new process took the broker id over', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0, { brokerAddress: 'old.local:1000' }));
    const result = table.register(broker('broker-a', 0, { brokerAddress: 'new.local:1000' }));
    expect(result.replacedAddress).toBe('old.local:1000');
    expect(table.unregister({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 0, brokerAddress: 'old.local:1000' })).toBe(false);
    expect(table.route('orders').brokers[0]?.addresses).toEqual([{ brokerId: 0, address: 'new.local:1000' }]);
  });

  it('answers false for a broker it does not know', () => {
    const { table } = setup();
    expect(table.unregister({ clusterName: 'DefaultCluster', brokerName: 'nobody', brokerId: 0, brokerAddress: '' })).toBe(false);
  });

  it('moves a process that re-registers under another broker id instead of listing it twice', () => {
    const { table } = setup();
    const address = 'a1.local:1000';
    table.register(broker('broker-a', 1, { brokerAddress: address }));
    table.register(broker('broker-a', 0, { brokerAddress: address }));
    expect(table.route('orders').brokers[0]?.addresses).toEqual([{ brokerId: 0, address }]);
  });
});

describe('RouteTable bad input', () => {
  const cases: Array<[string, Partial<BrokerRegistration>, ErrorCode]> = [
    ['an empty cluster name', { clusterName: '' }, ErrorCode.INVALID_NAME],
    ['an invalid cluster name', { clusterName: 'my cluster' }, ErrorCode.INVALID_NAME],
    ['an empty broker name', { brokerName: '' }, ErrorCode.INVALID_NAME],
    ['an invalid broker name', { brokerName: 'broker/a' }, ErrorCode.INVALID_NAME],
    ['an invalid topic name', { topics: [topic('orders'), topic('bad topic!')] }, ErrorCode.INVALID_NAME],
    ['a topic name over 127 characters', { topics: [topic('t'.repeat(128))] }, ErrorCode.INVALID_NAME],
    ['a negative broker id', { brokerId: -1 }, ErrorCode.INVALID_ARGUMENT],
    ['a fractional broker id', { brokerId: 0.5 }, ErrorCode.INVALID_ARGUMENT],
    ['an empty broker address', { brokerAddress: '' }, ErrorCode.INVALID_ARGUMENT],
    ['a broker address without a port', { brokerAddress: 'broker-a.local' }, ErrorCode.INVALID_ARGUMENT],
    ['a bad ha address', { haAddress: 'host:99999' }, ErrorCode.INVALID_ARGUMENT],
    ['a bad http address', { httpAddress: 'nope' }, ErrorCode.INVALID_ARGUMENT],
    ['a topic registered twice', { topics: [topic('orders'), topic('orders')] }, ErrorCode.INVALID_ARGUMENT],
    ['too many queues', { topics: [topic('orders', QUEUE_COUNT_MAX + 1)] }, ErrorCode.INVALID_ARGUMENT],
    ['a permission outside 0..7', { topics: [topic('orders', 4, 8)] }, ErrorCode.INVALID_ARGUMENT],
  ];

  for (const [what, overrides, code] of cases) {
    it(`rejects a registration with ${what} and changes nothing`, () => {
      const { table } = setup();
      table.register(broker('broker-a', 0, { topics: [topic('orders', 4)], dataVersion: { epoch: 1, timestampMs: 1, counter: 1 } }));
      table.register(broker('broker-a', 1));
      const before = snapshot(table);
      // Same identity as the live master where the override allows, and a new data version, so
      // that a partial apply would show.
      const bad = broker('broker-a', 0, { topics: [topic('replaced', 2)], dataVersion: { epoch: 1, timestampMs: 2, counter: 2 }, ...overrides });
      const err = thrown(() => table.register(bad));
      expect(err.code).toBe(code);
      expect(err.message.length).toBeGreaterThan(20);
      expect(snapshot(table)).toEqual(before);
    });
  }

  it('rejects a broker group claimed by a second cluster while the first is live, and changes nothing', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0));
    const before = snapshot(table);
    const err = thrown(() => table.register(broker('broker-a', 1, { clusterName: 'OtherCluster' })));
    expect(err.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(err.message).toContain("'DefaultCluster'");
    expect(snapshot(table)).toEqual(before);
  });

  it('rejects an invalid topic name in a route request with INVALID_NAME', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0));
    expect(thrown(() => table.route('')).code).toBe(ErrorCode.INVALID_NAME);
    expect(thrown(() => table.route('a b')).code).toBe(ErrorCode.INVALID_NAME);
  });

  it('rejects an unregister with a bad name or id and changes nothing', () => {
    const { table } = setup();
    table.register(broker('broker-a', 0));
    const before = snapshot(table);
    expect(thrown(() => table.unregister({ clusterName: '', brokerName: 'broker-a', brokerId: 0, brokerAddress: '' })).code).toBe(ErrorCode.INVALID_NAME);
    expect(thrown(() => table.unregister({ clusterName: 'DefaultCluster', brokerName: '', brokerId: 0, brokerAddress: '' })).code).toBe(ErrorCode.INVALID_NAME);
    expect(thrown(() => table.unregister({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: -3, brokerAddress: '' })).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(snapshot(table)).toEqual(before);
  });

  it(`refuses a new broker past ${BROKERS_MAX} live ones but still takes heartbeats`, () => {
    const { table } = setup();
    for (let i = 0; i < BROKERS_MAX; i += 1) table.register(broker(`b${i}`, 0, { brokerAddress: `h${i}:1000`, topics: [] }));
    const err = thrown(() => table.register(broker('one-too-many', 0, { brokerAddress: 'x:1000' })));
    expect(err.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect(table.register(broker('b0', 0, { brokerAddress: 'h0:1000', topics: [] })).change).toBe('heartbeat');
    expect(table.stats().brokers).toBe(BROKERS_MAX);
  });
});
