// Client failover against real processes (local cluster launcher: a nameserver, two broker groups
// of a master and a slave, sync replication, fast heartbeats): a producer moves off a killed
// master within seconds; a consumer reads a dead master's queues from its slave, commits offsets
// there, and when the master returns moves back and reconciles offsets without rewinding.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, PushConsumer, type Message, type SendResult } from '../../client/index.js';
import { pickFreeBasePort, resolveClusterOptions, startLocalCluster, type LocalCluster } from '../../deploy/local/index.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { BrokerService } from '../../proto/index.js';
import { loopBound } from '../helpers/loop-bound.js';
import { tempDir } from '../helpers/processes.js';
import { producerResumeMs } from '../chaos/recovery.js';
import type { SendRecord } from '../chaos/ledger.js';

/** Issue 5: producers resume on another broker group within 5 s, consumers from the slave within 10 s. */
const PRODUCER_RESUME_MS_MAX = 5_000;
const CONSUMER_RESUME_MS_MAX = 10_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('client failover', () => {
  const dir = tempDir('conveyor-failover-');
  let cluster: LocalCluster;
  let nameservers: string[];
  let admin: Admin;
  const channels: grpc.Client[] = [];

  beforeAll(async () => {
    const layout = {
      dir,
      nameservers: 1,
      groups: 2,
      slaves: 1,
      replication: 'sync',
      flush: 'async',
      fastHeartbeats: true,
      autoCreateTopics: false,
      // Slaves copy consumer offsets every second instead of every 5 s: a shorter test.
      brokerArgs: ['--metadata-sync-interval-ms', '1000'],
    };
    const { basePort: _unused, ...resolved } = resolveClusterOptions(layout);
    cluster = await startLocalCluster({ ...layout, basePort: await pickFreeBasePort(resolved) });
    nameservers = cluster.nameserverAddresses();
    admin = new Admin({ nameservers });
    await admin.start();
  });

  afterAll(async () => {
    for (const channel of channels) channel.close();
    await admin?.shutdown();
    await cluster?.down(5_000);
  });

  function brokerAddress(name: string): string {
    const broker = cluster.endpoints().brokers.find((b) => b.name === name);
    if (broker === undefined) throw new Error(`no broker ${name}`);
    return broker.address;
  }

  /** The group's committed offsets on one broker (sum over the queues), asked of that broker only. */
  async function committedOn(name: string, group: string, topic: string, queues: number): Promise<number> {
    const channel = new grpc.Client(brokerAddress(name), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    channels.push(channel);
    let sum = 0;
    for (let queueId = 0; queueId < queues; queueId++) {
      const answer = await callUnary(channel, BrokerService.queryOffset, { consumerGroup: group, topic, queueId }, 3_000);
      sum += answer.found ? Number(answer.queueOffset) : 0;
    }
    return sum;
  }

  it('moves sends to the other broker group within 5 s of a master kill, with no send failing', async () => {
    await admin.createTopic('failover-send', { queues: 4 });
    const producer = new Producer({ nameservers, routeRefreshIntervalMs: 2_000 });
    await producer.start();
    const sends: SendRecord[] = [];
    const started = performance.now();
    const now = (): number => performance.now() - started;
    let stop = false;
    let seq = 0;
    const loop = (async () => {
      // Stopped by the test (also when it fails: finally below); the bound is a backstop.
      const bound = loopBound('the failover send loop', 100_000, 110_000);
      while (!stop) {
        bound.tick();
        const startedAtMs = now();
        const result: SendResult = await producer.send('failover-send', { body: `m${seq}` });
        sends.push({ id: result.messageId, producer: 0, seq: seq++, startedAtMs, endedAtMs: now(), outcome: result.status, brokerName: result.brokerName });
        await delay(5);
      }
    })();
    try {
      await expect.poll(() => new Set(sends.map((s) => s.brokerName)).size, { timeout: 10_000 }).toBe(2);
      const killedAtMs = now();
      await cluster.stop('broker-a-0', 'KILL');
      await delay(PRODUCER_RESUME_MS_MAX + 2_000);
      stop = true;
      await loop; // rejects if any send threw
      const resume = producerResumeMs(sends, killedAtMs, now());
      expect(resume).not.toBeNull();
      expect(resume as number).toBeLessThanOrEqual(PRODUCER_RESUME_MS_MAX);
      const late = sends.filter((s) => s.startedAtMs >= killedAtMs + PRODUCER_RESUME_MS_MAX);
      expect(late.length).toBeGreaterThan(50);
      expect(new Set(late.map((s) => s.brokerName))).toEqual(new Set(['broker-b']));
      expect(producer.stats().retries).toBeGreaterThanOrEqual(1);
    } finally {
      stop = true;
      await loop.catch(() => undefined);
      await producer.shutdown();
      await cluster.start('broker-a-0');
    }
  });

  it('consumes a dead master\'s queues from its slave within 10 s, then moves back to the returned master without rewinding', async () => {
    const topic = 'failover-read';
    const group = 'failover-readers';
    const queues = 2;
    await admin.createTopic(topic, { queues, brokers: ['broker-a'] });
    const producer = new Producer({ nameservers, routeRefreshIntervalMs: 1_000 });
    await producer.start();
    /** Sends `count` messages; `replicated`: each must be on the slave too (OK), else stored on the master is enough. */
    const sendMany = async (count: number, prefix: string, replicated = true): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const { status } = await producer.send(topic, { body: `${prefix}${i}`, messageId: `${prefix}${i}` });
        if (replicated) expect(status).toBe('OK');
        else expect(['OK', 'SLAVE_NOT_AVAILABLE', 'SLAVE_TIMEOUT']).toContain(status);
      }
    };
    // The master was restarted by the test before: wait until its slave replicates again.
    await admin.createTopic('failover-probe', { queues: 1, brokers: ['broker-a'] });
    await expect.poll(async () => (await producer.send('failover-probe', { body: 'probe' })).status, { timeout: 20_000, interval: 250 }).toBe('OK');
    const delivered = new Map<string, number>();
    const newConsumer = (): PushConsumer =>
      new PushConsumer({
        nameservers,
        group,
        topic,
        from: 'first',
        commitIntervalMs: 500,
        rebalanceIntervalMs: 1_000,
        heartbeatIntervalMs: 1_000,
        routeRefreshIntervalMs: 1_000,
        handler: (message: Message) => void delivered.set(message.messageId, (delivered.get(message.messageId) ?? 0) + 1),
      });

    // 1. 500 messages consumed from the master; the offsets reach the master and, copied, the slave.
    await sendMany(500, 'before-');
    const first = newConsumer();
    await first.start();
    await expect.poll(() => delivered.size, { timeout: 15_000 }).toBe(500);
    await first.shutdown();
    expect(await committedOn('broker-a-0', group, topic, queues)).toBe(500);
    await expect.poll(() => committedOn('broker-a-1', group, topic, queues), { timeout: 10_000 }).toBe(500);

    // 2. 1000 more stored (on master and slave: sync replication), then the master dies.
    await sendMany(1_000, 'during-');
    const killedAt = performance.now();
    await cluster.stop('broker-a-0', 'KILL');
    const second = newConsumer();
    await second.start();
    await expect.poll(() => delivered.size, { timeout: CONSUMER_RESUME_MS_MAX, interval: 100 }).toBe(1_500);
    expect(performance.now() - killedAt).toBeLessThanOrEqual(CONSUMER_RESUME_MS_MAX);
    expect(second.stats().pulledFromSlaves).toBe(1_000);
    // Offsets committed while the master is away land on the slave.
    await expect.poll(() => committedOn('broker-a-1', group, topic, queues), { timeout: 10_000 }).toBe(1_500);

    // 3. The master returns with its old offsets (500); the consumer moves back to it, commits its
    //    own position there, and reads new messages from it.
    await cluster.start('broker-a-0');
    await expect.poll(() => committedOn('broker-a-0', group, topic, queues), { timeout: 20_000, interval: 250 }).toBe(1_500);
    // Right after its restart the master may not have its slave back yet: stored on the master is enough here.
    await sendMany(200, 'after-', false);
    await expect.poll(() => delivered.size, { timeout: 15_000 }).toBe(1_700);
    expect(second.stats().pulledFromSlaves).toBe(1_000);
    // All of it through pull subscriptions: each queue subscribed at the slave, then again at the master.
    const { reads } = second.stats();
    expect(reads.pull).toBe(0);
    expect(reads.subscribe).toBeGreaterThanOrEqual(2 * queues);
    await second.shutdown();

    // 4. A new member reconciles too: it starts at the larger committed offset and gets only new messages.
    await sendMany(10, 'last-', false);
    const third = newConsumer();
    await third.start();
    await expect.poll(() => delivered.size, { timeout: 15_000 }).toBe(1_710);
    await delay(1_000);
    await third.shutdown();
    await producer.shutdown();

    // No rewind: every message was handled exactly once across the master kill and return.
    const twice = [...delivered].filter(([, count]) => count > 1).map(([id]) => id);
    expect(twice).toEqual([]);
  });
});
