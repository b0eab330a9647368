import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Registration } from '../../../../broker/registration/registration.js';
import { CHANNEL_OPTIONS, callUnary } from '../../../../common/grpc.js';
import { silentLogger } from '../../../../common/logging.js';
import { loadConfig } from '../../../../common/config.js';
import { NAMESERVER_SETTINGS, startNameServer, type RunningNameServer } from '../../../../nameserver/index.js';
import { NameServerService, type conveyor } from '../../../../proto/index.js';
import { freePort } from '../../../helpers/processes.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function nameserver(host = '127.0.0.1', port = 0): Promise<{ ns: RunningNameServer; client: grpc.Client; address: string }> {
  const config = loadConfig(NAMESERVER_SETTINGS, { flags: { port, httpPort: 0, host }, env: {} });
  const ns = await startNameServer(config, silentLogger());
  const address = `${host}:${ns.port}`;
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  cleanups.push(() => ns.stop(), () => client.close());
  return { ns, client, address };
}

function registration(nameservers: string[], topics: () => conveyor.ITopicConfig[], intervalMs = 60_000): Registration {
  const r = new Registration({
    nameservers,
    intervalMs,
    clock: Date.now,
    log: silentLogger(),
    describe: () => ({ clusterName: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddress: '127.0.0.1:1', httpAddress: '127.0.0.1:2', haAddress: '' }),
    topics,
  });
  cleanups.push(() => r.stop({ unregister: false }));
  return r;
}

/** A slave of broker-a (id 1) that hears the master addresses its nameservers name. */
function slaveRegistration(nameservers: string[], answers: string[], awaitingMasterAddress?: () => boolean): Registration {
  const r = new Registration({
    nameservers,
    intervalMs: 60_000,
    clock: Date.now,
    log: silentLogger(),
    describe: () => ({ clusterName: 'C', brokerName: 'broker-a', brokerId: 1, brokerAddress: '127.0.0.1:11', httpAddress: '127.0.0.1:12', haAddress: '' }),
    topics: () => [],
    onMasterAddress: (address) => answers.push(address),
    ...(awaitingMasterAddress === undefined ? {} : { awaitingMasterAddress }),
  });
  cleanups.push(() => r.stop({ unregister: false }));
  return r;
}

describe('registration with nameservers', () => {
  it('registers with every nameserver and is ready after the first round', async () => {
    const a = await nameserver();
    const b = await nameserver();
    const r = registration([a.address, b.address], () => [{ topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6 }]);
    expect(r.ready).toBe(false);
    await r.start();
    expect(r.ready).toBe(true);
    for (const { client } of [a, b]) {
      const route = await callUnary(client, NameServerService.getRoute, { topic: 't' }, 2_000);
      expect(route.brokers[0]?.addresses?.[0]?.address).toBe('127.0.0.1:1');
    }
  });

  it('is ready with one nameserver up and one unreachable', async () => {
    const a = await nameserver();
    const dead = `127.0.0.1:${await freePort()}`;
    const r = registration([dead, a.address], () => []);
    await r.start();
    expect(r.ready).toBe(true);
  });

  it('is not ready while no nameserver accepted it', async () => {
    const r = registration([`127.0.0.1:${await freePort()}`], () => []);
    await r.start();
    expect(r.ready).toBe(false);
  });

  it('bumps the data version on a topic change so the nameserver replaces the topics', async () => {
    const a = await nameserver();
    let topics: conveyor.ITopicConfig[] = [{ topicName: 'old', readQueueCount: 1, writeQueueCount: 1, perm: 6 }];
    const r = registration([a.address], () => topics);
    await r.start();
    const before = r.currentDataVersion.counter;
    topics = [{ topicName: 'new', readQueueCount: 1, writeQueueCount: 1, perm: 6 }];
    await r.topicsChanged();
    expect(r.currentDataVersion.counter).toBe(before + 1);
    const list = await callUnary(a.client, NameServerService.getTopicList, {}, 2_000);
    expect(list.topics).toEqual(['new']);
  });

  it('unregisters on stop so the route drops the broker at once', async () => {
    const a = await nameserver();
    const r = registration([a.address], () => [{ topicName: 't', readQueueCount: 1, writeQueueCount: 1, perm: 6 }]);
    await r.start();
    await r.stop({ unregister: true });
    const info = await callUnary(a.client, NameServerService.getClusterInfo, {}, 2_000);
    expect(info.brokers).toEqual([]);
  });

  it('tells a slave the master its nameserver names: the replication address, not reported while no master is registered', async () => {
    const a = await nameserver();
    const answers: string[] = [];
    const slave = slaveRegistration([a.address], answers);
    await slave.start();
    expect(answers).toEqual([]);
    const master = new Registration({
      nameservers: [a.address],
      intervalMs: 60_000,
      clock: Date.now,
      log: silentLogger(),
      describe: () => ({ clusterName: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddress: '127.0.0.1:1', httpAddress: '127.0.0.1:2', haAddress: '127.0.0.1:3' }),
      topics: () => [],
    });
    cleanups.push(() => master.stop({ unregister: false }));
    await master.start();
    await slave.registerNow();
    expect(answers).toEqual(['127.0.0.1:3']);
  });

  it('asks again at the retry interval, not the heartbeat interval, while a slave awaits its master', async () => {
    const a = await nameserver();
    const answers: string[] = [];
    const slave = slaveRegistration([a.address], answers, () => answers.length === 0);
    await slave.start();
    expect(answers).toEqual([]);
    // The master registers after the slave's first round; the slave's next round (1 s, not 60 s) learns it.
    const master = registration([a.address], () => []);
    await master.start();
    await expect.poll(() => answers, { timeout: 5_000 }).toEqual(['127.0.0.1:1']);
  });

  it('heartbeats on its interval', async () => {
    const a = await nameserver();
    const r = registration([a.address], () => [], 100);
    await r.start();
    const first = (await callUnary(a.client, NameServerService.getClusterInfo, {}, 2_000)).brokers[0]?.lastUpdateMs ?? 0;
    await expect.poll(async () => (await callUnary(a.client, NameServerService.getClusterInfo, {}, 2_000)).brokers[0]?.lastUpdateMs ?? 0, { timeout: 3_000 }).toBeGreaterThan(first);
  });

  it('registers with every address a DNS name resolves to, and with new ones after re-resolving', async () => {
    // Two real nameservers on one port at two loopback addresses, behind one (injected) DNS name.
    const a = await nameserver('127.0.0.1');
    const b = await nameserver('127.0.0.2', a.ns.port);
    let now = 1_000_000;
    let answer = ['127.0.0.1'];
    const r = new Registration({
      nameservers: [`ns.conveyor.test:${a.ns.port}`],
      intervalMs: 60_000,
      resolveIntervalMs: 30_000,
      lookup: async (host) => {
        expect(host).toBe('ns.conveyor.test');
        return answer;
      },
      clock: () => now,
      log: silentLogger(),
      describe: () => ({ clusterName: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddress: '127.0.0.1:1', httpAddress: '127.0.0.1:2', haAddress: '' }),
      topics: () => [{ topicName: 't', readQueueCount: 1, writeQueueCount: 1, perm: 6 }],
    });
    cleanups.push(() => r.stop({ unregister: false }));
    await r.start();
    expect(r.ready).toBe(true);
    await callUnary(a.client, NameServerService.getRoute, { topic: 't' }, 2_000);
    await expect(callUnary(b.client, NameServerService.getRoute, { topic: 't' }, 2_000)).rejects.toMatchObject({ codeName: 'TOPIC_NOT_FOUND' });

    // A nameserver is added behind the name: not used before the resolve interval passes, then used.
    answer = ['127.0.0.1', '127.0.0.2'];
    now += 10_000;
    await r.registerNow();
    await expect(callUnary(b.client, NameServerService.getRoute, { topic: 't' }, 2_000)).rejects.toMatchObject({ codeName: 'TOPIC_NOT_FOUND' });
    now += 30_000;
    await r.registerNow();
    const route = await callUnary(b.client, NameServerService.getRoute, { topic: 't' }, 2_000);
    expect(route.brokers[0]?.brokerName).toBe('broker-a');
  });
});
