// Two real nameserver processes, brokers played by this test over gRPC: both answer the same
// routes, expiry works in the real process, ops endpoints answer, and one nameserver stopping
// leaves the other serving.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { NameServerService, type conveyor } from '../../proto/index.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const DEADLINE_MS = 5_000;
/** Short so the expiry test is quick; 10× the heartbeat below so a slow machine does not drop live brokers. */
const BROKER_EXPIRY_MS = 3_000;
const HEARTBEAT_INTERVAL_MS = 300;
const SCAN_INTERVAL_MS = 200;

interface NameServerUnderTest {
  proc: RunningProcess;
  httpPort: number;
  client: grpc.Client;
}

const nameservers: NameServerUnderTest[] = [];
let heartbeat: NodeJS.Timeout | undefined;

function registration(brokerName: string, brokerId: number, basePort: number, topics: Array<[string, number]>): conveyor.IRegisterBrokerRequest {
  return {
    clusterName: 'DefaultCluster',
    brokerName,
    brokerId,
    brokerAddress: `127.0.0.1:${basePort + brokerId}`,
    haAddress: `127.0.0.1:${basePort + 10 + brokerId}`,
    httpAddress: `127.0.0.1:${basePort + 20 + brokerId}`,
    topics: topics.map(([topicName, queues]) => ({ topicName, readQueueCount: queues, writeQueueCount: queues, perm: 6 })),
    dataVersion: { timestampMs: 1_700_000_000_000, counter: 1 },
    fullTopicTable: true,
  };
}

/** The brokers this test plays: group a (master + slave) and group b (master only). */
const BROKERS = [
  registration('broker-a', 0, 30_000, [['cluster-orders', 4]]),
  registration('broker-a', 1, 30_000, [['cluster-orders', 4]]),
  registration('broker-b', 0, 31_000, [['cluster-orders', 2], ['cluster-payments', 8]]),
];

/** What a broker does every heartbeat interval: register with every nameserver, each on its own. */
async function heartbeatAll(): Promise<void> {
  await Promise.all(
    nameservers.flatMap((ns) =>
      BROKERS.map((b) =>
        // A broker carries on when one nameserver is down (the test stops one on purpose).
        callUnary(ns.client, NameServerService.registerBroker, b, DEADLINE_MS).catch(() => undefined),
      ),
    ),
  );
}

async function rejection(promise: Promise<unknown>): Promise<ConveyorError> {
  const err: unknown = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  if (err instanceof ConveyorError) return err;
  throw err;
}

function routeOf(ns: NameServerUnderTest, topic: string): Promise<conveyor.TopicRoute> {
  return callUnary(ns.client, NameServerService.getRoute, { topic }, DEADLINE_MS);
}

beforeAll(async () => {
  const logDir = tempDir('conveyor-nameserver-');
  const ports = await freePorts(4);
  for (let i = 0; i < 2; i += 1) {
    const port = ports[2 * i] ?? 0;
    const httpPort = ports[2 * i + 1] ?? 0;
    const proc = spawnConveyor({
      name: `nameserver-${i}`,
      args: ['nameserver', '--host', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort), '--scan-interval-ms', String(SCAN_INTERVAL_MS)],
      // Expiry through the environment, the rest through flags: both paths of the real config.
      env: { CONVEYOR_BROKER_EXPIRY_MS: String(BROKER_EXPIRY_MS) },
      logDir,
    });
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    nameservers.push({ proc, httpPort, client });
  }
  await Promise.all(nameservers.map((ns) => waitReady(ns.proc, ns.httpPort)));
  await heartbeatAll();
  heartbeat = setInterval(() => void heartbeatAll(), HEARTBEAT_INTERVAL_MS);
});

afterAll(() => {
  clearInterval(heartbeat);
  for (const ns of nameservers) ns.client.close();
});

describe('two nameservers', () => {
  it('answer the same route, merged across broker groups, from each', async () => {
    const [first, second] = await Promise.all(nameservers.map((ns) => routeOf(ns, 'cluster-orders')));
    expect(first).toEqual(second);
    expect(first?.queues.map((q) => [q.brokerName, q.writeQueueCount])).toEqual([['broker-a', 4], ['broker-b', 2]]);
    expect(first?.brokers.map((b) => [b.brokerName, (b.addresses ?? []).map((a) => [a.brokerId, a.address])])).toEqual([
      ['broker-a', [[0, '127.0.0.1:30000'], [1, '127.0.0.1:30001']]],
      ['broker-b', [[0, '127.0.0.1:31000']]],
    ]);
    for (const ns of nameservers) {
      const list = await callUnary(ns.client, NameServerService.getTopicList, {}, DEADLINE_MS);
      expect(list.topics).toEqual(['cluster-orders', 'cluster-payments']);
    }
  });

  it('tell a slave its master from either nameserver', async () => {
    for (const ns of nameservers) {
      const answer = await callUnary(ns.client, NameServerService.registerBroker, BROKERS[1] ?? {}, DEADLINE_MS);
      expect([answer.masterAddress, answer.masterHaAddress]).toEqual(['127.0.0.1:30000', '127.0.0.1:30010']);
    }
  });

  it('reject a registration with an invalid name with INVALID_NAME through the wire and change nothing', async () => {
    const ns = nameservers[0];
    if (!ns) throw new Error('no nameserver');
    const before = await callUnary(ns.client, NameServerService.getClusterInfo, {}, DEADLINE_MS);
    const err = await rejection(callUnary(ns.client, NameServerService.registerBroker, registration('broker-a', 0, 30_000, [['bad topic!', 4]]), DEADLINE_MS));
    expect(err.code).toBe(ErrorCode.INVALID_NAME);
    expect(err.message).toContain('bad topic!');
    const emptyCluster = { ...registration('broker-z', 0, 32_000, [['cluster-z', 1]]), clusterName: '' };
    expect((await rejection(callUnary(ns.client, NameServerService.registerBroker, emptyCluster, DEADLINE_MS))).code).toBe(ErrorCode.INVALID_NAME);
    const after = await callUnary(ns.client, NameServerService.getClusterInfo, {}, DEADLINE_MS);
    expect(after.brokers.map((b) => [b.brokerName, b.brokerId, b.brokerAddress])).toEqual(before.brokers.map((b) => [b.brokerName, b.brokerId, b.brokerAddress]));
    const unknown = await rejection(routeOf(ns, 'cluster-z'));
    expect(unknown.code).toBe(ErrorCode.TOPIC_NOT_FOUND);
  });

  it('drop a broker that stops heartbeating after the expiry, and keep the others', async () => {
    const ns = nameservers[0];
    if (!ns) throw new Error('no nameserver');
    await callUnary(ns.client, NameServerService.registerBroker, registration('broker-silent', 0, 33_000, [['cluster-expiring', 1]]), DEADLINE_MS);
    expect((await routeOf(ns, 'cluster-expiring')).brokers.map((b) => b.brokerName)).toEqual(['broker-silent']);
    const registeredAt = Date.now();
    await expect
      .poll(async () => (await rejection(routeOf(ns, 'cluster-expiring'))).code, { timeout: BROKER_EXPIRY_MS * 3, interval: 200 })
      .toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(Date.now() - registeredAt).toBeGreaterThanOrEqual(BROKER_EXPIRY_MS - 500);
    expect((await routeOf(ns, 'cluster-orders')).brokers.map((b) => b.brokerName)).toEqual(['broker-a', 'broker-b']);
    // The scan removed it too, and counted it.
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${ns.httpPort}/metrics`).then((r) => r.text())), { timeout: 5_000, interval: 200 })
      .toMatch(/conveyor_nameserver_brokers_expired_total\{[^}]*\} 1/);
  });

  it('answer /healthz, /readyz and /metrics', async () => {
    for (const ns of nameservers) {
      const base = `http://127.0.0.1:${ns.httpPort}`;
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', role: 'nameserver', brokers: 3, brokerGroups: 2, topics: 2 });
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toMatch(/conveyor_nameserver_brokers\{[^}]*\} 3/);
      expect(text).toMatch(/conveyor_nameserver_topics\{[^}]*\} 2/);
      expect(text).toMatch(/conveyor_nameserver_requests_total\{method="registerBroker",code="OK"[^}]*\} [1-9]/);
    }
  });

  it('keep answering routes from the second when the first stops', async () => {
    const [first, second] = nameservers;
    if (!first || !second) throw new Error('two nameservers expected');
    expect(await first.proc.stop()).toBe(0);
    const unavailable = await rejection(routeOf(first, 'cluster-orders'));
    expect(unavailable.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    const route = await routeOf(second, 'cluster-orders');
    expect(route.brokers.map((b) => b.brokerName)).toEqual(['broker-a', 'broker-b']);
    expect((await routeOf(second, 'cluster-payments')).queues.map((q) => [q.brokerName, q.readQueueCount])).toEqual([['broker-b', 8]]);
  });
});
