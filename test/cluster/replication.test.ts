// Replication between real broker processes (issue 5, points 1–3): a master and its slave from the
// `conveyor cluster` launcher with sync replication, plus hand-started brokers for the handshake
// mismatch and for async replication. Sends, pulls, offsets and status go over gRPC and /readyz,
// exactly as clients and operators see them.
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalCluster, pickFreeBasePort, resolveClusterOptions, startLocalCluster } from '../../deploy/local/index.js';
import { errorCodeName } from '../../common/errors.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { decodeRecords } from '../../common/record.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import { expectProgress, loopBound } from '../helpers/loop-bound.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';
import { codeOf } from '../helpers/errors.js';

const CALL_DEADLINE_MS = 5_000;
/** Small segments, so that the large log below spans many of them. */
const SEGMENT_BYTES = 1024 * 1024;
/** Slaves copy topic configs and offsets this often (default 5 s). */
const METADATA_SYNC_INTERVAL_MS = 300;
const TOPIC = 'replicated';
const QUEUES = 2;

const root = tempDir('conveyor-replication-');
const clients = new Map<string, grpc.Client>();
let cluster: LocalCluster;
let nameservers: string;
let masterAddress: string;
let slaveAddress: string;
let masterHttp: string;
let slaveHttp: string;
let sentCount = 0;

function client(address: string): grpc.Client {
  let c = clients.get(address);
  if (c === undefined) {
    c = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    clients.set(address, c);
  }
  return c;
}

function message(body: Buffer | string): conveyor.IMessageInput {
  sentCount += 1;
  return { messageId: `rep-${process.pid}-${sentCount}`, body: typeof body === 'string' ? Buffer.from(body) : body, bornTimestampMs: Date.now(), keys: [], tag: '', properties: {} };
}

function send(address: string, queueId: number, messages: conveyor.IMessageInput[], topic = TOPIC): Promise<conveyor.SendResponse> {
  return callUnary(client(address), BrokerService.send, { topic, queueId, producerGroup: 'pg', messages }, CALL_DEADLINE_MS);
}

/** The statuses of one send, by name (OK, SLAVE_TIMEOUT, …). */
async function sendStatuses(address: string, queueId: number, count: number, topic = TOPIC): Promise<string[]> {
  const response = await send(address, queueId, Array.from({ length: count }, (_, i) => message(`m${i}`)), topic);
  return response.results.map((r) => errorCodeName(r.status ?? conveyor.ErrorCode.OK));
}


function brokerStatus(address: string): Promise<conveyor.BrokerStatus> {
  return callUnary(client(address), BrokerService.getBrokerStatus, {}, CALL_DEADLINE_MS);
}

async function maxPhysicalOffset(address: string): Promise<number> {
  return (await brokerStatus(address)).maxPhysicalOffset;
}

/** The broker's /readyz JSON (200 or 503). */
async function readyz(httpAddress: string): Promise<Record<string, unknown>> {
  const response = await fetch(`http://${httpAddress}/readyz`, { signal: AbortSignal.timeout(2_000) });
  return (await response.json()) as Record<string, unknown>;
}

async function connectedSlaves(httpAddress: string): Promise<number> {
  const replication = (await readyz(httpAddress))['replication'] as { connectedSlaves?: number } | undefined;
  return replication?.connectedSlaves ?? 0;
}

/** Every record of one queue as [messageId, body, physicalOffset], read by pulls from `address`. */
async function readQueue(address: string, queueId: number, topic = TOPIC): Promise<Array<[string, string, number]>> {
  const out: Array<[string, string, number]> = [];
  const bound = loopBound(`reading ${topic}/${queueId} from ${address}`, 1_000, 60_000);
  for (let offset = 0; ; ) {
    bound.tick();
    const answer = await callUnary(client(address), BrokerService.pull, { consumerGroup: 'reader', topic, queueId, queueOffset: offset, maxCount: 1_024 }, CALL_DEADLINE_MS);
    if (answer.status !== conveyor.PullStatus.PULL_FOUND) return out;
    for (const r of decodeRecords(Buffer.from(answer.records))) out.push([r.messageId, Buffer.from(r.body).toString(), r.physicalOffset]);
    offset = expectProgress(`pull of ${topic}/${queueId} from ${address}`, offset, answer.nextQueueOffset);
  }
}

async function createTopic(address: string, topicName: string): Promise<void> {
  await callUnary(client(address), BrokerService.upsertTopic, { config: { topicName, readQueueCount: QUEUES, writeQueueCount: QUEUES, perm: 6 } }, CALL_DEADLINE_MS);
}

/** JSON log entries with this message, optionally of one process (pid) only: a restarted process appends to the same file. */
async function logLines(file: string, msg: string, pid?: number | null): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['msg'] === msg && (pid === undefined || entry['pid'] === pid));
}

beforeAll(async () => {
  const dir = join(root, 'cluster');
  const layout = {
    dir,
    nameservers: 1,
    groups: 1,
    slaves: 1,
    replication: 'sync',
    fastHeartbeats: true,
    brokerArgs: ['--segment-bytes', String(SEGMENT_BYTES), '--metadata-sync-interval-ms', String(METADATA_SYNC_INTERVAL_MS)],
  };
  const { basePort: _unused, ...options } = resolveClusterOptions(layout);
  cluster = await startLocalCluster({ ...layout, basePort: await pickFreeBasePort(options) });
  const endpoints = cluster.endpoints();
  nameservers = endpoints.nameservers.join(',');
  const master = endpoints.brokers.find((b) => b.name === 'broker-a-0');
  const slave = endpoints.brokers.find((b) => b.name === 'broker-a-1');
  if (master === undefined || slave === undefined) throw new Error('layout without broker-a-0 and broker-a-1');
  [masterAddress, masterHttp, slaveAddress, slaveHttp] = [master.address, master.httpAddress, slave.address, slave.httpAddress];
  await createTopic(masterAddress, TOPIC);
  await vi.waitFor(async () => expect(await connectedSlaves(masterHttp)).toBe(1), { timeout: 15_000, interval: 100 });
});

afterAll(async () => {
  for (const c of clients.values()) c.close();
  await cluster?.down(10_000);
});

describe('sync replication between a master and its slave', () => {
  it('answers sends OK once the slave has them, and the slave serves the same records at the same offsets', async () => {
    for (let batch = 0; batch < 5; batch++) {
      expect(await sendStatuses(masterAddress, batch % QUEUES, 20)).toEqual(Array(20).fill('OK'));
    }
    // OK under sync replication means the slave had flushed them before the answer.
    const onMaster = [await readQueue(masterAddress, 0), await readQueue(masterAddress, 1)];
    expect(onMaster.map((q) => q.length)).toEqual([60, 40]);
    expect([await readQueue(slaveAddress, 0), await readQueue(slaveAddress, 1)]).toEqual(onMaster);
    const ranges = await callUnary(client(slaveAddress), BrokerService.getQueueRange, { topic: TOPIC, queueId: 0 }, CALL_DEADLINE_MS);
    expect([ranges.minQueueOffset, ranges.maxQueueOffset]).toEqual([0, 60]);
  });

  it('shows replication lag as numbers in cluster status, /readyz and GetBrokerStatus', async () => {
    const status = new Map((await cluster.status()).map((p) => [p.name, p]));
    for (const name of ['broker-a-0', 'broker-a-1']) {
      expect(typeof status.get(name)?.replicationLagBytes, name).toBe('number');
      expect(typeof status.get(name)?.replicationLagMs, name).toBe('number');
    }
    expect(status.get('nameserver-0')?.replicationLagBytes).toBeNull();
    await expect.poll(async () => (await readyz(slaveHttp))['replicationLagBytes'], { timeout: 5_000 }).toBe(0);
    expect(await readyz(slaveHttp)).toMatchObject({ role: 'slave', replicationError: null, replication: { connected: true, masterAddress } });
    expect(await readyz(masterHttp)).toMatchObject({ role: 'master', replicationMode: 'sync', replication: { connectedSlaves: 1, slaves: [expect.objectContaining({ brokerId: 1, inSync: true })] } });
    expect(await brokerStatus(slaveAddress)).toMatchObject({ role: 'slave', replicationLagBytes: 0, replicationMode: 'sync' });
    const metrics = await (await fetch(`http://${masterHttp}/metrics`)).text();
    expect(metrics).toMatch(/^conveyor_replication_lag_bytes\{[^}]*\} \d+$/m);
    expect(metrics).toMatch(/^conveyor_replication_connected_slaves\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^conveyor_replication_sync_sends_total\{status="OK"[^}]*\} \d+$/m);
  });

  it('refuses sends and config changes on the slave with NOT_MASTER', async () => {
    expect(await codeOf(send(slaveAddress, 0, [message('to the slave')]))).toBe('NOT_MASTER');
    expect(await codeOf(createTopic(slaveAddress, 'made-on-slave'))).toBe('NOT_MASTER');
  });

  it('copies topic configs and committed offsets to the slave on its interval', async () => {
    await createTopic(masterAddress, 'copied-topic');
    await callUnary(client(masterAddress), BrokerService.commitOffset, { consumerGroup: 'copied-group', topic: TOPIC, queueId: 1, queueOffset: 37 }, CALL_DEADLINE_MS);
    await expect
      .poll(async () => (await callUnary(client(slaveAddress), BrokerService.queryOffset, { consumerGroup: 'copied-group', topic: TOPIC, queueId: 1 }, CALL_DEADLINE_MS)).queueOffset, { timeout: 10_000 })
      .toBe(37);
    const stats = await callUnary(client(slaveAddress), BrokerService.getTopicStats, { topic: '' }, CALL_DEADLINE_MS);
    expect(stats.topics.map((t) => t.topicName)).toEqual(['copied-topic', TOPIC]);
    // A group config alone (no topic change) is copied too.
    await callUnary(client(masterAddress), BrokerService.upsertGroup, { config: { groupName: 'copied-group', consumeEnable: true, retryMaxTimes: 5 } }, CALL_DEADLINE_MS);
    await expect
      .poll(async () => (await callUnary(client(slaveAddress), BrokerService.listGroups, {}, CALL_DEADLINE_MS)).groups.map((g) => [g.groupName, g.retryMaxTimes]), { timeout: 10_000 })
      .toEqual([['copied-group', 5]]);
  });

  it('deletes a topic on the slave, with its data, after the master deleted it', async () => {
    const slaveRange = async (): Promise<number> => (await callUnary(client(slaveAddress), BrokerService.getQueueRange, { topic: 'copied-topic', queueId: 0 }, CALL_DEADLINE_MS)).maxQueueOffset;
    expect(await sendStatuses(masterAddress, 0, 3, 'copied-topic')).toEqual(['OK', 'OK', 'OK']);
    expect(await slaveRange()).toBe(3);
    await callUnary(client(masterAddress), BrokerService.deleteTopic, { topic: 'copied-topic' }, CALL_DEADLINE_MS);
    await expect
      .poll(async () => (await callUnary(client(slaveAddress), BrokerService.getTopicStats, { topic: '' }, CALL_DEADLINE_MS)).topics.map((t) => t.topicName), { timeout: 10_000 })
      .toEqual([TOPIC]);
    expect(await slaveRange()).toBe(0);
  });

  it('answers SLAVE_TIMEOUT after the replication timeout when the connected slave stops confirming', async () => {
    await cluster.stop('broker-a-1', 'STOP');
    try {
      const began = Date.now();
      expect(await sendStatuses(masterAddress, 1, 2)).toEqual(['SLAVE_TIMEOUT', 'SLAVE_TIMEOUT']);
      const tookMs = Date.now() - began;
      expect(tookMs).toBeGreaterThanOrEqual(1_400); // replicationTimeoutMs default 1,500
      expect(tookMs).toBeLessThan(CALL_DEADLINE_MS);
    } finally {
      await cluster.stop('broker-a-1', 'CONT');
    }
    await expect.poll(async () => (await sendStatuses(masterAddress, 1, 1))[0], { timeout: 10_000 }).toBe('OK');
  });

  it('answers SLAVE_NOT_AVAILABLE while the slave is dead, and the slave resumes from its own offset and catches up', async () => {
    const before = await maxPhysicalOffset(slaveAddress);
    expect(before).toBeGreaterThan(0);
    await cluster.stop('broker-a-1', 'KILL');
    await expect.poll(() => connectedSlaves(masterHttp), { timeout: 10_000 }).toBe(0);
    const statuses = await sendStatuses(masterAddress, 0, 10);
    expect(new Set(statuses).size).toBe(1);
    expect(['SLAVE_NOT_AVAILABLE', 'SLAVE_TIMEOUT']).toContain(statuses[0]);
    // Stored on the master all the same.
    expect((await readQueue(masterAddress, 0)).length).toBe(70);

    await cluster.start('broker-a-1');
    await expect.poll(() => maxPhysicalOffset(slaveAddress), { timeout: 20_000 }).toBe(await maxPhysicalOffset(masterAddress));
    const slaveProcess = cluster.process('broker-a-1');
    const resumed = (await logLines(slaveProcess.logFile, 'replicating from master', slaveProcess.pid))[0];
    expect(resumed?.['startPhysicalOffset']).toBeGreaterThanOrEqual(before);
    expect(resumed?.['startPhysicalOffset']).toBeGreaterThan(0);
    await expect.poll(async () => (await sendStatuses(masterAddress, 1, 1))[0], { timeout: 10_000 }).toBe('OK');
    expect(await readQueue(slaveAddress, 0)).toEqual(await readQueue(masterAddress, 0));
  });

  it('fills an empty slave from a master holding a large log of many segments', async () => {
    await cluster.stop('broker-a-1', 'KILL');
    const dataDir = cluster.process('broker-a-1').dataDir;
    if (dataDir === null) throw new Error('slave without a data dir');
    rmSync(dataDir, { recursive: true, force: true });
    // 50,000 messages of 512 bytes (~30 MiB, ~30 segments) while no slave is connected.
    const body = Buffer.alloc(512, 7);
    for (let batch = 0; batch < 100; batch++) {
      const response = await send(masterAddress, batch % QUEUES, Array.from({ length: 500 }, () => message(body)));
      expect(response.results).toHaveLength(500);
    }
    const masterMax = await maxPhysicalOffset(masterAddress);
    expect(masterMax).toBeGreaterThan(25 * SEGMENT_BYTES);
    const started = Date.now();
    await cluster.start('broker-a-1');
    await expect.poll(() => maxPhysicalOffset(slaveAddress), { timeout: 60_000, interval: 200 }).toBe(masterMax);
    const catchUpMs = Date.now() - started;
    expect(catchUpMs).toBeLessThan(60_000);
    const slaveProcess = cluster.process('broker-a-1');
    const first = (await logLines(slaveProcess.logFile, 'replicating from master', slaveProcess.pid))[0];
    expect(first?.['startPhysicalOffset']).toBe(0);
    const [masterRange, slaveRange] = await Promise.all(
      [masterAddress, slaveAddress].map((address) => callUnary(client(address), BrokerService.getQueueRange, { topic: TOPIC, queueId: 1 }, CALL_DEADLINE_MS)),
    );
    expect(slaveRange?.maxQueueOffset).toBe(masterRange?.maxQueueOffset);
    expect((await readQueue(slaveAddress, 1)).slice(-3)).toEqual((await readQueue(masterAddress, 1)).slice(-3));
  });
});

describe('a slave whose settings differ from its master', () => {
  let mismatched: RunningProcess;
  let httpPort: number;

  beforeAll(async () => {
    let port: number;
    [port, httpPort] = (await freePorts(2)) as [number, number];
    mismatched = spawnConveyor({
      name: 'broker-a-2-mismatched',
      logDir: root,
      args: ['broker', '--cluster', cluster.options.clusterName, '--name', 'broker-a', '--id', '2', '--host', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort),
        '--nameservers', nameservers, '--data', join(root, 'broker-a-2'), '--segment-bytes', String(4 * SEGMENT_BYTES), '--register-interval-ms', '1000'],
    });
    await waitReady(mismatched, httpPort, 60_000);
  });

  afterAll(async () => {
    await mismatched?.stop(10_000);
  });

  it('is refused with HANDSHAKE_MISMATCH naming the segment size, in its status and in both logs', async () => {
    await expect.poll(async () => (await readyz(`127.0.0.1:${httpPort}`))['replicationError'], { timeout: 15_000 }).toBe('HANDSHAKE_MISMATCH');
    const status = await readyz(`127.0.0.1:${httpPort}`);
    expect(status).toMatchObject({ replication: { connected: false, lastError: { code: 'HANDSHAKE_MISMATCH', message: expect.stringContaining('segmentBytes differs') } } });
    const refusals = await logLines(mismatched.logFile, 'replication refused; the slave needs an operator');
    expect(refusals[0]).toMatchObject({ code: 'HANDSHAKE_MISMATCH', setting: 'segmentBytes' });
    const masterLog = await logLines(cluster.process('broker-a-0').logFile, 'replication stream ended with an error');
    expect(masterLog.find((entry) => entry['code'] === 'HANDSHAKE_MISMATCH')).toMatchObject({ brokerId: 2, setting: 'segmentBytes', masterValue: SEGMENT_BYTES, slaveValue: 4 * SEGMENT_BYTES });
    // The good slave is still the master's only connected slave.
    expect(await connectedSlaves(masterHttp)).toBe(1);
  });
});

describe('async replication', () => {
  const brokers: RunningProcess[] = [];
  let port: number;
  let slavePort: number;
  let slaveHttpPort: number;

  function startBroker(id: number, grpcPort: number, http: number): RunningProcess {
    const proc = spawnConveyor({
      name: `broker-b-${id}`,
      logDir: root,
      args: ['broker', '--cluster', cluster.options.clusterName, '--name', 'broker-b', '--id', String(id), '--host', '127.0.0.1', '--port', String(grpcPort), '--http-port', String(http),
        '--nameservers', nameservers, '--data', join(root, `broker-b-${id}`), '--segment-bytes', String(SEGMENT_BYTES), '--replication', 'async', '--register-interval-ms', '1000'],
    });
    brokers.push(proc);
    return proc;
  }

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.stop(10_000)));
  });

  it('answers OK without a slave, and a slave started later converges to the master', async () => {
    let httpPort: number;
    [port, httpPort, slavePort, slaveHttpPort] = (await freePorts(4)) as [number, number, number, number];
    const master = startBroker(0, port, httpPort);
    await waitReady(master, httpPort, 60_000);
    const address = `127.0.0.1:${port}`;
    await createTopic(address, 'async-topic');
    expect(await sendStatuses(address, 0, 50, 'async-topic')).toEqual(Array(50).fill('OK'));
    const slave = startBroker(1, slavePort, slaveHttpPort);
    await waitReady(slave, slaveHttpPort, 60_000);
    expect(await sendStatuses(address, 1, 50, 'async-topic')).toEqual(Array(50).fill('OK'));
    const masterMax = await maxPhysicalOffset(address);
    await expect.poll(() => maxPhysicalOffset(`127.0.0.1:${slavePort}`), { timeout: 15_000 }).toBe(masterMax);
    expect(await readQueue(`127.0.0.1:${slavePort}`, 1, 'async-topic')).toEqual(await readQueue(address, 1, 'async-topic'));
    expect(await readyz(`127.0.0.1:${httpPort}`)).toMatchObject({ replicationMode: 'async', replication: { connectedSlaves: 1 } });
  });
});
