// De-duplication and QueryMessage stay exact for ids the message-id index keeps as one entry per
// run (broker/store/id-run-index.ts): on the master and on its slave (which indexes record by
// record), and across a master restart, when a re-sent batch is answered from the store's index.
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConveyorError } from '../../common/errors.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { decodeRecords } from '../../common/record.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import { generatorId } from '../helpers/generator-id.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const CALL_DEADLINE_MS = 5_000;
const dir = tempDir('conveyor-dedup-runs-');
const clients: grpc.Client[] = [];
let nsPort = 0;
let masterPort = 0;
let masterHttpPort = 0;
let master: RunningProcess;
let broker: grpc.Client;
let slave: grpc.Client;

function client(port: number): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

function startBroker(name: string, id: number, port: number, httpPort: number): RunningProcess {
  return spawnConveyor({
    name,
    logDir: dir,
    args: ['broker', '--cluster', 'TestCluster', '--name', 'broker-a', '--id', String(id), '--port', String(port), '--http-port', String(httpPort),
      '--nameservers', `127.0.0.1:${nsPort}`, '--data', join(dir, `broker-a-${id}`), '--segment-bytes', String(16 * 1024 * 1024), '--register-interval-ms', '1000'],
  });
}

function send(topic: string, queueId: number, ids: readonly string[]): Promise<conveyor.SendResponse> {
  const messages = ids.map((messageId) => ({ messageId, body: Buffer.from(`body of ${messageId}`), bornTimestampMs: Date.now(), keys: [], tag: '', properties: {} }));
  return callUnary(broker, BrokerService.send, { topic, queueId, producerGroup: 'pg', messages }, CALL_DEADLINE_MS);
}

/** (queue id, queue offset) of the record QueryMessage finds for the id, or undefined when it finds none. */
async function queryMessage(target: grpc.Client, messageId: string): Promise<[number, number] | undefined> {
  try {
    const response = await callUnary(target, BrokerService.queryMessage, { messageId }, CALL_DEADLINE_MS);
    const [record] = [...decodeRecords(Buffer.from(response.records))];
    expect(record?.messageId).toBe(messageId);
    return [record!.queueId, record!.queueOffset];
  } catch (err) {
    if (isConveyorError(err)) return undefined;
    throw err;
  }
}

beforeAll(async () => {
  let nsHttp: number;
  let slavePort: number;
  let slaveHttp: number;
  [nsPort, nsHttp, masterPort, masterHttpPort, slavePort, slaveHttp] = (await freePorts(6)) as [number, number, number, number, number, number];
  const ns = spawnConveyor({ name: 'nameserver', logDir: dir, args: ['nameserver', '--port', String(nsPort), '--http-port', String(nsHttp)] });
  await waitReady(ns, nsHttp);
  master = startBroker('broker-a-0', 0, masterPort, masterHttpPort);
  const slaveProcess = startBroker('broker-a-1', 1, slavePort, slaveHttp);
  await Promise.all([waitReady(master, masterHttpPort), waitReady(slaveProcess, slaveHttp)]);
  broker = client(masterPort);
  slave = client(slavePort);
});

afterAll(() => {
  for (const c of clients) c.close();
});

describe('message ids kept as runs in the index', () => {
  it('are found by QueryMessage on master and slave, and a batch re-sent after a master restart is answered from the index exactly', async () => {
    await callUnary(broker, BrokerService.upsertTopic, { config: { topicName: 'runs', readQueueCount: 2, writeQueueCount: 2, perm: 6 } }, CALL_DEADLINE_MS);
    const run = Array.from({ length: 128 }, (_, i) => generatorId(0xabc, 1_000 + i));
    const first = await send('runs', 0, ['user-1', ...run, 'user-2']);
    expect(first.results.map((r) => r.queueOffset)).toEqual(Array.from({ length: 130 }, (_, i) => i));

    // First, middle and last id of the run, one past its end, and the user ids, on both brokers.
    const probes: [string, [number, number] | undefined][] = [
      [run[0]!, [0, 1]],
      [run[63]!, [0, 64]],
      [run[127]!, [0, 128]],
      [generatorId(0xabc, 1_128), undefined],
      ['user-2', [0, 129]],
    ];
    for (const [id, expected] of probes) {
      expect(await queryMessage(broker, id)).toEqual(expected);
      await expect.poll(() => queryMessage(slave, id), { timeout: 10_000, interval: 100 }).toEqual(expected);
    }

    // Restart: the de-duplication window is empty, so a repeat can only be found through the store's index.
    expect(await master.stop()).toBe(0);
    master = startBroker('broker-a-0-restarted', 0, masterPort, masterHttpPort);
    await waitReady(master, masterHttpPort);
    const fresh = Array.from({ length: 64 }, (_, i) => generatorId(0xabc, 1_128 + i));
    const again = await send('runs', 1, [...run.slice(64), 'user-1', ...fresh]);
    expect(again.results.map((r) => [r.duplicate, r.queueId, r.queueOffset])).toEqual([
      ...run.slice(64).map((_, i) => [true, 0, 65 + i]),
      [true, 0, 0],
      ...fresh.map((_, i) => [false, 1, i]),
    ]);
    expect((await callUnary(broker, BrokerService.getQueueRange, { topic: 'runs', queueId: 0 }, CALL_DEADLINE_MS)).maxQueueOffset).toBe(130);
    expect((await callUnary(broker, BrokerService.getQueueRange, { topic: 'runs', queueId: 1 }, CALL_DEADLINE_MS)).maxQueueOffset).toBe(64);
  });

  it('keeps one producer\'s lone sends as a run, not an id each, and still answers each repeat with its original result', async () => {
    await callUnary(broker, BrokerService.upsertTopic, { config: { topicName: 'lone', readQueueCount: 2, writeQueueCount: 2, perm: 6 } }, CALL_DEADLINE_MS);
    const entriesBefore = await dedupEntries();
    // 30 lone sends with consecutive counters, then 30 with every other counter (as with two broker groups).
    const counters = [...Array.from({ length: 30 }, (_, i) => 5_000 + i), ...Array.from({ length: 30 }, (_, i) => 5_030 + 2 * i)];
    const stored = new Map<number, [number, number]>();
    for (const [k, counter] of counters.entries()) {
      const response = await send('lone', k % 2, [generatorId(0xdef, counter)]);
      expect(response.results[0]?.duplicate).toBe(false);
      stored.set(counter, [Number(response.results[0]!.queueId), Number(response.results[0]!.queueOffset)]);
    }
    // The first id takes a window entry; the others joined the run it started.
    expect((await dedupEntries()) - entriesBefore).toBe(1);

    for (const counter of [5_000, 5_001, 5_017, 5_030, 5_060, 5_088]) {
      const again = await send('lone', 1, [generatorId(0xdef, counter)]);
      expect([again.results[0]?.duplicate, again.results[0]?.queueId, again.results[0]?.queueOffset]).toEqual([true, ...stored.get(counter)!]);
    }
    // A counter the run covers but that was never sent here is stored, not mistaken for a repeat.
    const skipped = await send('lone', 1, [generatorId(0xdef, 5_031)]);
    expect(skipped.results[0]?.duplicate).toBe(false);
    expect((await callUnary(broker, BrokerService.getQueueRange, { topic: 'lone', queueId: 1 }, CALL_DEADLINE_MS)).maxQueueOffset).toBe(31);
  });
});

/** The master's conveyor_broker_dedup_window_entries gauge. */
async function dedupEntries(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${masterHttpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('conveyor_broker_dedup_window_entries'));
  expect(line).toBeDefined();
  return Number(line!.split(' ').at(-1));
}
