import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Discovery, type NameserverTransport } from '../../../../client/routing/discovery.js';
import { loadConfig } from '../../../../common/config.js';
import { CHANNEL_OPTIONS, callUnary } from '../../../../common/grpc.js';
import { silentLogger } from '../../../../common/logging.js';
import { NAMESERVER_SETTINGS, startNameServer, type RunningNameServer } from '../../../../nameserver/index.js';
import { NameServerService } from '../../../../proto/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function channels(): NameserverTransport & { asked: string[] } {
  const clients = new Map<string, grpc.Client>();
  cleanups.push(() => clients.forEach((c) => c.close()));
  const asked: string[] = [];
  const transport = (<Req, Res>(address: string, method: Parameters<NameserverTransport>[1], request: Req, deadlineMs: number): Promise<Res> => {
    asked.push(address);
    let client = clients.get(address);
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      clients.set(address, client);
    }
    return callUnary(client, method as never, request, deadlineMs, address) as Promise<Res>;
  }) as NameserverTransport & { asked: string[] };
  transport.asked = asked;
  return transport;
}

async function nameserver(host: string, port: number): Promise<RunningNameServer> {
  const config = loadConfig(NAMESERVER_SETTINGS, { flags: { port, httpPort: 0, host }, env: {} });
  const ns = await startNameServer(config, silentLogger());
  cleanups.push(() => ns.stop());
  return ns;
}

async function registerBroker(address: string): Promise<void> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    await callUnary(client, NameServerService.registerBroker, {
      clusterName: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddress: '127.0.0.1:1', httpAddress: '127.0.0.1:2',
      topics: [{ topicName: 'orders', readQueueCount: 4, writeQueueCount: 4, perm: 6 }],
      dataVersion: { timestampMs: 1, counter: 1 },
      fullTopicTable: true,
    }, 2_000);
  } finally {
    client.close();
  }
}

describe('discovery through a DNS name', () => {
  it('uses every nameserver the name resolves to and survives losing one', async () => {
    // Two real nameservers on one port at two loopback addresses, as a headless Service would
    // give two pod IPs; the DNS answer is the only thing injected.
    const first = await nameserver('127.0.0.1', 0);
    const second = await nameserver('127.0.0.2', first.port);
    for (const host of ['127.0.0.1', '127.0.0.2']) await registerBroker(`${host}:${first.port}`);

    const transport = channels();
    const lookups: string[] = [];
    const discovery = new Discovery(
      { nameservers: `ns.conveyor.test:${first.port}`, requestTimeoutMs: 1_000, lookup: async (host) => (lookups.push(host), ['127.0.0.1', '127.0.0.2']) },
      transport,
    );
    expect((await discovery.getRoute('orders')).queues[0]?.writeQueueCount).toBe(4);
    expect(lookups).toEqual(['ns.conveyor.test']);
    expect([...discovery.rotation.addresses].sort()).toEqual([`127.0.0.1:${first.port}`, `127.0.0.2:${first.port}`]);

    // Lose the nameserver that answered: the next lookup fails over to the other address.
    const answeredFirst = transport.asked[0];
    const lost = answeredFirst === `127.0.0.1:${first.port}` ? first : second;
    await lost.stop();
    expect((await discovery.getRoute('orders')).topic).toBe('orders');
    expect(new Set(transport.asked)).toEqual(new Set([`127.0.0.1:${first.port}`, `127.0.0.2:${first.port}`]));
  });

  it('says which addresses it tried when every nameserver behind the name is gone', async () => {
    const only = await nameserver('127.0.0.1', 0);
    const port = only.port;
    await only.stop();
    const discovery = new Discovery({ nameservers: `ns.conveyor.test:${port}`, requestTimeoutMs: 500, lookup: async () => ['127.0.0.1'] }, channels());
    await expect(discovery.getRoute('orders')).rejects.toMatchObject({ codeName: 'SERVICE_UNAVAILABLE', message: expect.stringContaining(`127.0.0.1:${port}`) });
  });
});
