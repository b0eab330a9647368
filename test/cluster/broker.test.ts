// The broker as a real process next to a real nameserver: registration, topics and routes, send
// and pull, long polling, de-duplication across a restart, offsets across a restart, every bad
// input's code over the wire, and unregistering on SIGTERM.
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, errorCodeName, isConveyorError } from '../../common/errors.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { MESSAGE_BODY_BYTES_MAX } from '../../common/limits.js';
import { decodeRecords } from '../../common/record.js';
import { BrokerService, NameServerService, conveyor } from '../../proto/index.js';
import { longPollWaiting } from '../helpers/metrics.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const CALL_DEADLINE_MS = 5_000;
const dir = tempDir('conveyor-broker-');
const clients: grpc.Client[] = [];
let nsPort = 0;
let masterPort = 0;
let masterHttpPort = 0;
let slavePort = 0;
let master: RunningProcess;
let nameserver: grpc.Client;
let broker: grpc.Client;
let slave: grpc.Client;

function client(port: number): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

function startMaster(name: string, extraArgs: string[] = []): RunningProcess {
  return spawnConveyor({
    name,
    logDir: dir,
    args: ['broker', '--cluster', 'TestCluster', '--name', 'broker-a', '--id', '0', '--port', String(masterPort), '--http-port', String(masterHttpPort),
      '--nameservers', `127.0.0.1:${nsPort}`, '--data', join(dir, 'broker-a-0'), '--segment-bytes', String(16 * 1024 * 1024), '--register-interval-ms', '1000', ...extraArgs],
  });
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; fields: Readonly<Record<string, unknown>> }> {
  try {
    await promise;
  } catch (err) {
    if (isConveyorError(err)) return { code: errorCodeName(err.code), fields: err.fields };
    throw err;
  }
  return { code: 'OK', fields: {} };
}

function send(topic: string, queueId: number, messages: conveyor.IMessageInput[], target = broker): Promise<conveyor.SendResponse> {
  return callUnary(target, BrokerService.send, { topic, queueId, producerGroup: 'pg', messages }, CALL_DEADLINE_MS);
}

function msg(messageId: string, body: string, extra: Partial<conveyor.IMessageInput> = {}): conveyor.IMessageInput {
  return { messageId, body: Buffer.from(body), bornTimestampMs: Date.now(), keys: [], tag: '', properties: {}, ...extra };
}

async function createTopic(topicName: string, queues = 4): Promise<void> {
  await callUnary(broker, BrokerService.upsertTopic, { config: { topicName, readQueueCount: queues, writeQueueCount: queues, perm: 6 } }, CALL_DEADLINE_MS);
}

async function queueMax(topic: string, queueId: number): Promise<number> {
  return (await callUnary(broker, BrokerService.getQueueRange, { topic, queueId }, CALL_DEADLINE_MS)).maxQueueOffset;
}

async function routeBrokers(topic: string): Promise<string[]> {
  try {
    const route = await callUnary(nameserver, NameServerService.getRoute, { topic }, CALL_DEADLINE_MS);
    return route.brokers.flatMap((b) => (b.addresses ?? []).map((a) => `${b.brokerName}/${a.brokerId}@${a.address}`));
  } catch (err) {
    if (isConveyorError(err)) return [];
    throw err;
  }
}

beforeAll(async () => {
  let nsHttp: number;
  let slaveHttp: number;
  [nsPort, nsHttp, masterPort, masterHttpPort, slavePort, slaveHttp] = (await freePorts(6)) as [number, number, number, number, number, number];
  const ns = spawnConveyor({ name: 'nameserver', logDir: dir, args: ['nameserver', '--port', String(nsPort), '--http-port', String(nsHttp), '--broker-expiry-ms', '120000'] });
  await waitReady(ns, nsHttp);
  master = startMaster('broker-a-0');
  const slaveProcess = spawnConveyor({
    name: 'broker-a-1',
    logDir: dir,
    args: ['broker', '--cluster', 'TestCluster', '--name', 'broker-a', '--id', '1', '--port', String(slavePort), '--http-port', String(slaveHttp), '--nameservers', `127.0.0.1:${nsPort}`, '--data', join(dir, 'broker-a-1'), '--segment-bytes', String(16 * 1024 * 1024)],
  });
  await Promise.all([waitReady(master, masterHttpPort), waitReady(slaveProcess, slaveHttp)]);
  nameserver = client(nsPort);
  broker = client(masterPort);
  slave = client(slavePort);
});

afterAll(() => {
  for (const c of clients) c.close();
});

describe('a broker next to a nameserver', () => {
  it('registers with the nameserver: cluster info lists master and slave with their addresses', async () => {
    const info = await callUnary(nameserver, NameServerService.getClusterInfo, {}, CALL_DEADLINE_MS);
    const seen = info.brokers.map((b) => `${b.clusterName}/${b.brokerName}/${b.brokerId}@${b.brokerAddress}`);
    expect(seen).toEqual([`TestCluster/broker-a/0@127.0.0.1:${masterPort}`, `TestCluster/broker-a/1@127.0.0.1:${slavePort}`]);
    const status = await callUnary(broker, BrokerService.getBrokerStatus, {}, CALL_DEADLINE_MS);
    expect(status).toMatchObject({ clusterName: 'TestCluster', brokerName: 'broker-a', brokerId: 0, role: 'master', flushMode: 'async' });
  });

  it('creating a topic makes its route appear at once, and deleting it removes it', async () => {
    await createTopic('routed', 4);
    const route = await callUnary(nameserver, NameServerService.getRoute, { topic: 'routed' }, CALL_DEADLINE_MS);
    expect(route.queues).toEqual([expect.objectContaining({ brokerName: 'broker-a', readQueueCount: 4, writeQueueCount: 4, perm: 6 })]);
    expect(await routeBrokers('routed')).toContain(`broker-a/0@127.0.0.1:${masterPort}`);
    await callUnary(broker, BrokerService.deleteTopic, { topic: 'routed' }, CALL_DEADLINE_MS);
    expect(await routeBrokers('routed')).toEqual([]);
    expect((await codeOf(send('routed', 0, [msg('r1', 'x')]))).code).toBe('TOPIC_NOT_FOUND');
  });

  it('a sent batch comes back from a pull as the same records, in order', async () => {
    await createTopic('orders', 4);
    const sent = [
      msg('o-1', 'first', { keys: ['k1'], tag: 'red', properties: { a: '1' } }),
      msg('o-2', 'second', { tag: 'blue' }),
      msg('o-3', 'third', { tag: 'red' }),
    ];
    const response = await send('orders', 2, sent);
    expect(response.results.map((r) => [r.messageId, r.queueId, r.queueOffset, r.brokerName, r.duplicate, r.status])).toEqual([
      ['o-1', 2, 0, 'broker-a', false, conveyor.ErrorCode.OK],
      ['o-2', 2, 1, 'broker-a', false, conveyor.ErrorCode.OK],
      ['o-3', 2, 2, 'broker-a', false, conveyor.ErrorCode.OK],
    ]);
    const pulled = await callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'orders', queueId: 2, queueOffset: 0, maxCount: 10 }, CALL_DEADLINE_MS);
    expect(pulled.status).toBe(conveyor.PullStatus.PULL_FOUND);
    expect([pulled.recordCount, pulled.nextQueueOffset, pulled.minQueueOffset, pulled.maxQueueOffset, pulled.brokerName]).toEqual([3, 3, 0, 3, 'broker-a']);
    const records = [...decodeRecords(Buffer.from(pulled.records))];
    expect(records.map((r) => [r.messageId, Buffer.from(r.body).toString(), r.tag, r.queueOffset, r.topic])).toEqual([
      ['o-1', 'first', 'red', 0, 'orders'],
      ['o-2', 'second', 'blue', 1, 'orders'],
      ['o-3', 'third', 'red', 2, 'orders'],
    ]);
    expect(records[0]).toMatchObject({ keys: ['k1'], properties: { a: '1' } });
    expect(records.map((r) => r.physicalOffset)).toEqual(response.results.map((r) => r.physicalOffset));

    const filtered = await callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'orders', queueId: 2, queueOffset: 0, maxCount: 10, tagExpression: 'red' }, CALL_DEADLINE_MS);
    expect([...decodeRecords(Buffer.from(filtered.records))].map((r) => r.messageId)).toEqual(['o-1', 'o-3']);

    const metrics = await (await fetch(`http://127.0.0.1:${masterHttpPort}/metrics`)).text();
    expect(metrics).toMatch(/conveyor_broker_messages_in_total\{topic="orders",process="broker-a-0"\} 3/);
    expect(metrics).toMatch(/conveyor_broker_messages_out_total\{topic="orders",process="broker-a-0"\} 5/);
  });

  it('a held pull is answered promptly when a message lands in its queue', async () => {
    await createTopic('idle', 2);
    const offset = await queueMax('idle', 1);
    const started = Date.now();
    const pull = callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'idle', queueId: 1, queueOffset: offset, maxWaitMs: 10_000 }, 15_000);
    await expect.poll(() => longPollWaiting(masterHttpPort), { timeout: 5_000, interval: 20 }).toBe(1); // the pull waits at the broker
    const sentAt = Date.now();
    await send('idle', 1, [msg('idle-1', 'wake up')]);
    const answer = await pull;
    const answeredAt = Date.now();
    expect(answer.status).toBe(conveyor.PullStatus.PULL_FOUND);
    expect([...decodeRecords(Buffer.from(answer.records))].map((r) => r.messageId)).toEqual(['idle-1']);
    expect(answeredAt - sentAt).toBeLessThan(2_000);
    expect(answeredAt - started).toBeLessThan(9_000);
  });

  it('a held pull with nothing arriving answers NO_NEW_MESSAGE after its wait', async () => {
    const offset = await queueMax('idle', 0);
    const started = Date.now();
    const answer = await callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'idle', queueId: 0, queueOffset: offset, maxWaitMs: 500 }, 5_000);
    expect(answer.status).toBe(conveyor.PullStatus.PULL_NO_NEW_MESSAGE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('a repeated message id is stored once and answered with the original result', async () => {
    await createTopic('dedup', 2);
    const first = await send('dedup', 0, [msg('same-id', 'v1')]);
    const again = await send('dedup', 1, [msg('same-id', 'v2'), msg('other-id', 'v3')]);
    expect(again.results[0]).toMatchObject({ messageId: 'same-id', duplicate: true, queueId: 0, queueOffset: first.results[0]!.queueOffset, physicalOffset: first.results[0]!.physicalOffset });
    expect(again.results[1]).toMatchObject({ messageId: 'other-id', duplicate: false, queueId: 1 });
    expect(await queueMax('dedup', 0)).toBe(1);
    expect(await queueMax('dedup', 1)).toBe(1);
  });

  it('consumer heartbeats give the sorted live member list; unregister removes one at once', async () => {
    for (const clientId of ['c-2', 'c-1', 'c-3']) {
      await callUnary(broker, BrokerService.consumerHeartbeat, { clientId, consumerGroup: 'members', topics: ['orders'], mode: conveyor.ConsumeMode.CLUSTERING }, CALL_DEADLINE_MS);
    }
    expect((await callUnary(broker, BrokerService.getConsumerList, { consumerGroup: 'members' }, CALL_DEADLINE_MS)).clientIds).toEqual(['c-1', 'c-2', 'c-3']);
    await callUnary(broker, BrokerService.unregisterConsumer, { clientId: 'c-2', consumerGroup: 'members' }, CALL_DEADLINE_MS);
    expect((await callUnary(broker, BrokerService.getConsumerList, { consumerGroup: 'members' }, CALL_DEADLINE_MS)).clientIds).toEqual(['c-1', 'c-3']);
  });

  it('answers every bad input with its code over the wire', async () => {
    await createTopic('bad', 2);
    expect((await codeOf(send('bad topic!', 0, [msg('x', 'x')]))).code).toBe('INVALID_NAME');
    expect((await codeOf(send('no-such-topic', 0, [msg('x', 'x')]))).code).toBe('TOPIC_NOT_FOUND');
    expect((await codeOf(send('bad', 0, [msg('big', 'x'.repeat(MESSAGE_BODY_BYTES_MAX + 1))]))).code).toBe('MESSAGE_TOO_LARGE');
    expect((await codeOf(send('bad', 2, [msg('q', 'x')]))).code).toBe('QUEUE_NOT_FOUND');
    expect((await codeOf(send('bad', 0, []))).code).toBe('INVALID_ARGUMENT');
    expect((await codeOf(send('bad', 0, [msg('s', 'x')], slave))).code).toBe('NOT_MASTER');
    expect((await codeOf(callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'bad', queueId: 0, queueOffset: 0, tagExpression: 'a ||' }, CALL_DEADLINE_MS))).code).toBe('INVALID_ARGUMENT');
    expect((await codeOf(callUnary(broker, BrokerService.upsertTopic, { config: { topicName: 'q0', readQueueCount: 0, writeQueueCount: 1 } }, CALL_DEADLINE_MS))).code).toBe('INVALID_ARGUMENT');

    await send('bad', 1, [msg('r-1', 'a'), msg('r-2', 'b')]);
    const outOfRange = await codeOf(callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'bad', queueId: 1, queueOffset: 5 }, CALL_DEADLINE_MS));
    expect(outOfRange.code).toBe('OFFSET_OUT_OF_RANGE');
    expect(outOfRange.fields).toMatchObject({ minOffset: '0', maxOffset: '2' });
    // Nothing changed on any of those.
    expect(await queueMax('bad', 0)).toBe(0);
    expect(await queueMax('bad', 1)).toBe(2);
  });

  it('keeps committed offsets and de-duplication across a restart, and unregisters on SIGTERM', async () => {
    await createTopic('durable', 2);
    const first = await send('durable', 0, [msg('durable-1', 'once')]);
    await callUnary(broker, BrokerService.commitOffset, { consumerGroup: 'cg', topic: 'durable', queueId: 0, queueOffset: 1 }, CALL_DEADLINE_MS);
    expect(await callUnary(broker, BrokerService.queryOffset, { consumerGroup: 'cg', topic: 'durable', queueId: 0 }, CALL_DEADLINE_MS)).toMatchObject({ found: true, queueOffset: 1 });

    // A pull held at shutdown is answered at once, not after its 10 s hold.
    const held = callUnary(broker, BrokerService.pull, { consumerGroup: 'cg', topic: 'durable', queueId: 1, queueOffset: 0, maxWaitMs: 10_000 }, 15_000);
    await expect.poll(() => longPollWaiting(masterHttpPort), { timeout: 5_000, interval: 20 }).toBe(1); // the pull waits at the broker
    const stoppedAt = Date.now();
    expect(await master.stop()).toBe(0);
    expect((await held).status).toBe(conveyor.PullStatus.PULL_NO_NEW_MESSAGE);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    // Unregistered on shutdown: the route drops the broker without waiting for the 2-minute expiry.
    expect(await routeBrokers('durable')).toEqual([]);

    master = startMaster('broker-a-0-restarted', ['--auto-create-topics']);
    await waitReady(master, masterHttpPort);
    await expect.poll(() => routeBrokers('durable'), { timeout: 10_000 }).toContain(`broker-a/0@127.0.0.1:${masterPort}`);
    expect(await callUnary(broker, BrokerService.queryOffset, { consumerGroup: 'cg', topic: 'durable', queueId: 0 }, CALL_DEADLINE_MS)).toMatchObject({ found: true, queueOffset: 1 });
    expect(await callUnary(broker, BrokerService.queryOffset, { consumerGroup: 'cg', topic: 'durable', queueId: 1 }, CALL_DEADLINE_MS)).toMatchObject({ found: false });

    const again = await send('durable', 1, [msg('durable-1', 'twice')]);
    expect(again.results[0]).toMatchObject({ duplicate: true, queueId: 0, queueOffset: first.results[0]!.queueOffset, physicalOffset: first.results[0]!.physicalOffset });
    expect(await queueMax('durable', 0)).toBe(1);
    expect(await queueMax('durable', 1)).toBe(0);
    const groups = await callUnary(broker, BrokerService.getGroupOffsets, { consumerGroup: 'cg', topic: '' }, CALL_DEADLINE_MS);
    expect(groups.offsets).toEqual([
      expect.objectContaining({ topic: 'durable', queueId: 0, committedOffset: 1, maxQueueOffset: 1 }),
      expect.objectContaining({ topic: 'durable', queueId: 1, committedOffset: -1, maxQueueOffset: 0 }),
    ]);
  });

  it('with --auto-create-topics, a send to an unknown topic creates it and its route appears', async () => {
    const response = await send('auto-made', 5, [msg('auto-1', 'hello')]);
    expect(response.results[0]).toMatchObject({ queueId: 5, queueOffset: 0, duplicate: false });
    const route = await callUnary(nameserver, NameServerService.getRoute, { topic: 'auto-made' }, CALL_DEADLINE_MS);
    expect(route.queues).toEqual([expect.objectContaining({ brokerName: 'broker-a', readQueueCount: 8, writeQueueCount: 8 })]);
  });
});
