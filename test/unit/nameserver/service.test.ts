// The NameServer service over a real in-process gRPC server on ephemeral ports: wire conversion,
// error codes through the wire, request metrics.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../common/config.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import { CHANNEL_OPTIONS, callUnary } from '../../../common/grpc.js';
import { silentLogger } from '../../../common/logging.js';
import { NAMESERVER_SETTINGS } from '../../../nameserver/config.js';
import { startNameServer, type RunningNameServer } from '../../../nameserver/main.js';
import { NameServerService, type conveyor } from '../../../proto/index.js';

const DEADLINE_MS = 5_000;

let nameserver: RunningNameServer;
let client: grpc.Client;

beforeAll(async () => {
  const config = loadConfig(NAMESERVER_SETTINGS, { flags: { host: '127.0.0.1', port: 0, httpPort: 0 }, env: {} });
  nameserver = await startNameServer(config, silentLogger());
  client = new grpc.Client(`127.0.0.1:${nameserver.port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
});

afterAll(async () => {
  client?.close();
  await nameserver?.stop();
});

function registration(brokerName: string, brokerId: number, topics: string[]): conveyor.IRegisterBrokerRequest {
  return {
    clusterName: 'DefaultCluster',
    brokerName,
    brokerId,
    brokerAddress: `127.0.0.1:${20_000 + brokerId}`,
    haAddress: `127.0.0.1:${21_000 + brokerId}`,
    httpAddress: `127.0.0.1:${22_000 + brokerId}`,
    topics: topics.map((topicName) => ({ topicName, readQueueCount: 4, writeQueueCount: 4, perm: 6 })),
    dataVersion: { epoch: 9, timestampMs: 1_700_000_000_000, counter: 1 },
    fullTopicTable: true,
  };
}

async function rejection(promise: Promise<unknown>): Promise<ConveyorError> {
  const err: unknown = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  if (err instanceof ConveyorError) return err;
  throw err;
}

describe('NameServer gRPC service', () => {
  it('registers a master and a slave and answers route, cluster info and topic list over the wire', async () => {
    await callUnary(client, NameServerService.registerBroker, registration('svc-a', 0, ['svc-orders']), DEADLINE_MS);
    const slaveAnswer = await callUnary(client, NameServerService.registerBroker, registration('svc-a', 1, ['svc-orders']), DEADLINE_MS);
    expect(slaveAnswer.masterAddress).toBe('127.0.0.1:20000');
    expect(slaveAnswer.masterHaAddress).toBe('127.0.0.1:21000');

    const route = await callUnary(client, NameServerService.getRoute, { topic: 'svc-orders' }, DEADLINE_MS);
    expect(route.topic).toBe('svc-orders');
    expect(route.queues.map((q) => [q.brokerName, q.readQueueCount, q.writeQueueCount, q.perm])).toEqual([['svc-a', 4, 4, 6]]);
    expect(route.brokers.map((b) => [b.clusterName, b.brokerName, (b.addresses ?? []).map((a) => [a.brokerId, a.address])])).toEqual([
      ['DefaultCluster', 'svc-a', [[0, '127.0.0.1:20000'], [1, '127.0.0.1:20001']]],
    ]);

    const info = await callUnary(client, NameServerService.getClusterInfo, {}, DEADLINE_MS);
    expect(info.brokers.map((b) => [b.brokerName, b.brokerId, b.httpAddress, b.dataVersion?.counter])).toEqual([
      ['svc-a', 0, '127.0.0.1:22000', 1],
      ['svc-a', 1, '127.0.0.1:22001', 1],
    ]);
    expect(info.brokers[0]?.lastUpdateMs).toBeGreaterThan(0);

    const list = await callUnary(client, NameServerService.getTopicList, {}, DEADLINE_MS);
    expect(list.topics).toEqual(['svc-orders']);
  });

  it('answers TOPIC_NOT_FOUND for an unknown topic and INVALID_NAME for a bad one through the wire', async () => {
    const unknown = await rejection(callUnary(client, NameServerService.getRoute, { topic: 'no-such-topic' }, DEADLINE_MS));
    expect(unknown.code).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(unknown.message).toContain('no-such-topic');
    const bad = await rejection(callUnary(client, NameServerService.getRoute, { topic: 'bad topic' }, DEADLINE_MS));
    expect(bad.code).toBe(ErrorCode.INVALID_NAME);
  });

  it('rejects a registration with an empty broker name and keeps the state as it was', async () => {
    const before = await callUnary(client, NameServerService.getClusterInfo, {}, DEADLINE_MS);
    const err = await rejection(callUnary(client, NameServerService.registerBroker, registration('', 0, ['svc-x']), DEADLINE_MS));
    expect(err.code).toBe(ErrorCode.INVALID_NAME);
    expect(err.message).toContain('broker name');
    const after = await callUnary(client, NameServerService.getClusterInfo, {}, DEADLINE_MS);
    expect(after.brokers.map((b) => [b.brokerName, b.brokerId])).toEqual(before.brokers.map((b) => [b.brokerName, b.brokerId]));
  });

  it('removes an unregistered broker from routes at once', async () => {
    await callUnary(client, NameServerService.registerBroker, registration('svc-gone', 0, ['svc-gone-topic']), DEADLINE_MS);
    await callUnary(client, NameServerService.unregisterBroker, { clusterName: 'DefaultCluster', brokerName: 'svc-gone', brokerId: 0, brokerAddress: '127.0.0.1:20000' }, DEADLINE_MS);
    const err = await rejection(callUnary(client, NameServerService.getRoute, { topic: 'svc-gone-topic' }, DEADLINE_MS));
    expect(err.code).toBe(ErrorCode.TOPIC_NOT_FOUND);
  });

  it('counts requests by method and code and reports brokers and topics in /metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${nameserver.httpPort}/metrics`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toMatch(/conveyor_nameserver_requests_total\{method="getRoute",code="TOPIC_NOT_FOUND"[^}]*\} [1-9]/);
    expect(text).toMatch(/conveyor_nameserver_requests_total\{method="registerBroker",code="INVALID_NAME"[^}]*\} 1/);
    expect(text).toMatch(/conveyor_nameserver_brokers\{[^}]*\} 2/);
    expect(text).toMatch(/conveyor_nameserver_topics\{[^}]*\} 1/);
  });

  it('answers a light heartbeat it cannot match with topic_table_wanted, and takes light heartbeats once it holds the table', async () => {
    const full = registration('svc-light', 0, ['svc-light-topic']);
    const light: conveyor.IRegisterBrokerRequest = { ...full, topics: [], fullTopicTable: false };
    const wanted = await callUnary(client, NameServerService.registerBroker, light, DEADLINE_MS);
    expect(wanted.topicTableWanted).toBe(true);
    await expect(callUnary(client, NameServerService.getRoute, { topic: 'svc-light-topic' }, DEADLINE_MS)).rejects.toMatchObject({ codeName: 'TOPIC_NOT_FOUND' });
    expect((await callUnary(client, NameServerService.registerBroker, full, DEADLINE_MS)).topicTableWanted).toBe(false);
    expect((await callUnary(client, NameServerService.registerBroker, light, DEADLINE_MS)).topicTableWanted).toBe(false);
    const route = await callUnary(client, NameServerService.getRoute, { topic: 'svc-light-topic' }, DEADLINE_MS);
    expect(route.brokers.map((b) => b.brokerName)).toEqual(['svc-light']);
    const info = await callUnary(client, NameServerService.getClusterInfo, {}, DEADLINE_MS);
    expect(info.brokers.find((b) => b.brokerName === 'svc-light')?.dataVersion).toMatchObject({ epoch: 9, counter: 1 });

    const text = await (await fetch(`http://127.0.0.1:${nameserver.httpPort}/metrics`)).text();
    expect(text).toMatch(/conveyor_nameserver_registrations_total\{change="topics-wanted",table="light"[^}]*\} 1/);
    expect(text).toMatch(/conveyor_nameserver_registrations_total\{change="heartbeat",table="light"[^}]*\} 1/);
    await callUnary(client, NameServerService.unregisterBroker, { clusterName: 'DefaultCluster', brokerName: 'svc-light', brokerId: 0, brokerAddress: '' }, DEADLINE_MS);
  });

  it('rejects a light heartbeat that carries topics: the sender forgot full_topic_table', async () => {
    const request: conveyor.IRegisterBrokerRequest = { ...registration('svc-forgot', 0, ['svc-forgot-topic']), fullTopicTable: false };
    const err = await rejection(callUnary(client, NameServerService.registerBroker, request, DEADLINE_MS));
    expect(err.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(err.message).toContain('full_topic_table');
  });
});
