// A broker process next to a nameserver process, heartbeating with the data version alone at rest
// (docs/nameserver.md, Registration): the nameserver still learns a new topic within one
// heartbeat interval, heartbeats at rest carry no topic table, and a restarted nameserver
// relearns every topic within one interval.
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { BrokerService, NameServerService } from '../../proto/index.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const CALL_DEADLINE_MS = 5_000;
const REGISTER_INTERVAL_MS = 1_000;
/**
 * Slack on top of one interval: the broker's channel reconnects to a restarted nameserver with a
 * backoff of at most 2 s (common/grpc.ts CHANNEL_OPTIONS), plus process scheduling on a busy machine.
 */
const MARGIN_MS = 3_000;
/** Topics created before the nameserver restart: enough that a partial relearn would show. */
const TOPIC_COUNT = 40;

const dir = tempDir('conveyor-registration-');
let nsPort = 0;
let nsHttpPort = 0;
let nameserverProcess: RunningProcess;
let nameserver: grpc.Client;
let broker: grpc.Client;

function startNameserver(name: string): RunningProcess {
  return spawnConveyor({ name, logDir: dir, args: ['nameserver', '--host', '127.0.0.1', '--port', String(nsPort), '--http-port', String(nsHttpPort)] });
}

async function createTopic(topicName: string): Promise<void> {
  await callUnary(broker, BrokerService.upsertTopic, { config: { topicName, readQueueCount: 4, writeQueueCount: 4, perm: 6 } }, CALL_DEADLINE_MS);
}

/** The nameserver's topic list; [] while it cannot be reached (the poll goes on). */
async function topicList(): Promise<string[]> {
  try {
    return (await callUnary(nameserver, NameServerService.getTopicList, {}, CALL_DEADLINE_MS)).topics;
  } catch {
    return [];
  }
}

/** conveyor_nameserver_registrations_total by its labels, e.g. `change="heartbeat",table="light"`. */
async function registrations(labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${nsHttpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`conveyor_nameserver_registrations_total{${labels}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

beforeAll(async () => {
  let brokerPort: number;
  let brokerHttpPort: number;
  [nsPort, nsHttpPort, brokerPort, brokerHttpPort] = (await freePorts(4)) as [number, number, number, number];
  nameserverProcess = startNameserver('nameserver');
  await waitReady(nameserverProcess, nsHttpPort);
  const brokerProcess = spawnConveyor({
    name: 'broker-a-0',
    logDir: dir,
    args: ['broker', '--cluster', 'TestCluster', '--name', 'broker-a', '--id', '0', '--port', String(brokerPort), '--http-port', String(brokerHttpPort),
      '--nameservers', `127.0.0.1:${nsPort}`, '--data', join(dir, 'broker-a-0'), '--segment-bytes', String(16 * 1024 * 1024), '--register-interval-ms', String(REGISTER_INTERVAL_MS)],
  });
  await waitReady(brokerProcess, brokerHttpPort);
  nameserver = new grpc.Client(`127.0.0.1:${nsPort}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  broker = new grpc.Client(`127.0.0.1:${brokerPort}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
});

afterAll(() => {
  nameserver?.close();
  broker?.close();
});

describe('registration with data versions, between real processes', () => {
  it('the nameserver routes a topic created on the broker within one heartbeat interval', async () => {
    await createTopic('created');
    await expect.poll(topicList, { timeout: REGISTER_INTERVAL_MS + MARGIN_MS, interval: 50 }).toContain('created');
    const route = await callUnary(nameserver, NameServerService.getRoute, { topic: 'created' }, CALL_DEADLINE_MS);
    expect(route.queues).toEqual([expect.objectContaining({ brokerName: 'broker-a', readQueueCount: 4, writeQueueCount: 4, perm: 6 })]);
  });

  it('heartbeats at rest are light: no full topic table while nothing changes', async () => {
    const full = (await registrations('change="new",table="full"')) + (await registrations('change="topics-changed",table="full"')) + (await registrations('change="heartbeat",table="full"'));
    const light = await registrations('change="heartbeat",table="light"');
    await expect.poll(() => registrations('change="heartbeat",table="light"'), { timeout: 2 * REGISTER_INTERVAL_MS + MARGIN_MS, interval: 100 }).toBeGreaterThanOrEqual(light + 2);
    const fullAfter = (await registrations('change="new",table="full"')) + (await registrations('change="topics-changed",table="full"')) + (await registrations('change="heartbeat",table="full"'));
    expect(fullAfter).toBe(full);
  });

  it('a restarted nameserver relearns every topic within one heartbeat interval', async () => {
    for (let i = 0; i < TOPIC_COUNT; i++) await createTopic(`relearn-${String(i).padStart(2, '0')}`);
    const before = await topicList();
    expect(before).toEqual(expect.arrayContaining(['created', 'relearn-00', `relearn-${TOPIC_COUNT - 1}`]));
    await nameserverProcess.stop();
    nameserverProcess = startNameserver('nameserver-restarted');
    await waitReady(nameserverProcess, nsHttpPort);
    await expect.poll(topicList, { timeout: REGISTER_INTERVAL_MS + MARGIN_MS, interval: 50 }).toEqual(before);
  });
});
