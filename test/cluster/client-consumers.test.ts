// Consumer groups against real processes (issue 4 "Done when"): disjoint shares and exactly-once
// delivery without faults, rebalancing on join and leave without loss, broadcasting, resuming from
// the committed offset, starting from a timestamp, and long polling. Push consumers read through
// pull subscriptions (the default): the first test checks that path's order, filtering, frames and
// clean-up at the brokers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, PullConsumer, PushConsumer, type Message, type MessageQueue, type PushConsumerOptions } from '../../client/index.js';
import { queueKey } from '../../client/routing/route.js';
import { longPollWaiting } from '../helpers/metrics.js';
import { tempDir } from '../helpers/processes.js';
import { startTestCluster, type TestCluster } from './client-fixture.js';

/** Quick membership changes for tests: rebalance and heartbeat twice a second. */
const FAST: Partial<PushConsumerOptions> = { rebalanceIntervalMs: 300, heartbeatIntervalMs: 500, commitIntervalMs: 500, longPollMs: 5_000 };

interface Member {
  consumer: PushConsumer;
  received: Message[];
}

describe('consumer groups', () => {
  let cluster: TestCluster;
  let admin: Admin;
  let producer: Producer;
  const members: PushConsumer[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
    admin = new Admin({ nameservers: cluster.nameservers });
    producer = new Producer({ nameservers: cluster.nameservers });
    await admin.start();
    await producer.start();
  });

  afterAll(async () => {
    await Promise.all(members.map((m) => m.shutdown()));
    await producer?.shutdown();
    await admin?.shutdown();
  });

  async function member(topic: string, group: string, extra: Partial<PushConsumerOptions> = {}, onMessage?: (m: Message) => void): Promise<Member> {
    const received: Message[] = [];
    const handler = (m: Message): void => {
      received.push(m);
      onMessage?.(m);
    };
    const consumer = new PushConsumer({ nameservers: cluster.nameservers, group, topic, from: 'first', ...FAST, ...extra, handler });
    members.push(consumer);
    await consumer.start();
    return { consumer, received };
  }

  async function sendBatches(topic: string, count: number, batch = 250, prefix = 'm'): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < count; start += batch) {
      const size = Math.min(batch, count - start);
      const results = await producer.sendBatch(topic, Array.from({ length: size }, (_, i) => ({ body: `${prefix}-${start + i}` })));
      for (const r of results) expect(r.status).toBe('OK');
      ids.push(...results.map((r) => r.messageId));
    }
    return ids;
  }

  /** Waits until the members' assignments are disjoint and together cover all of the topic's queues. */
  async function waitForBalancedShares(topic: string, group: readonly Member[], queueCount: number): Promise<string[][]> {
    let shares: string[][] = [];
    await expect
      .poll(
        () => {
          shares = group.map((m) => m.consumer.assignment().filter((q) => q.topic === topic).map(queueKey));
          const all = shares.flat();
          const sizes = shares.map((s) => s.length);
          return all.length === queueCount && new Set(all).size === queueCount && Math.max(...sizes) - Math.min(...sizes) <= 1;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe(true);
    return shares;
  }

  // First in the file: no other consumer holds anything at the brokers yet.
  it('reads every queue in order and without gaps through subscriptions, filtered by tag, across a rebalance, leaving nothing held', async () => {
    await admin.createTopic('subscribed', { queues: 4 });
    const first = await member('subscribed', 'g-subscribed', { tagExpression: 'keep' });
    await expect.poll(() => first.consumer.assignment().length, { timeout: 10_000 }).toBe(8);
    // Every queue subscribed and waiting: one hold per queue at each broker, no more.
    const httpPorts = cluster.brokers.map((b) => b.httpPort);
    await expect.poll(async () => Promise.all(httpPorts.map(longPollWaiting)), { timeout: 10_000 }).toEqual([4, 4]);

    const kept: string[] = [];
    const send = async (count: number, prefix: string): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const tag = i % 3 === 0 ? 'drop' : 'keep';
        const result = await producer.send('subscribed', { body: `${prefix}-${i}`, tag });
        expect(result.status).toBe('OK');
        if (tag === 'keep') kept.push(result.messageId);
      }
    };
    await send(300, 'alone');
    const second = await member('subscribed', 'g-subscribed', { tagExpression: 'keep' });
    const group = [first, second];
    await waitForBalancedShares('subscribed', group, 8);
    await send(300, 'shared');

    const seen = (): Set<string> => new Set(group.flatMap((m) => m.received.map((r) => r.messageId)));
    await expect.poll(() => kept.filter((id) => !seen().has(id)).length, { timeout: 30_000, interval: 100 }).toBe(0);
    for (const m of group) {
      expect(m.received.every((r) => r.tag === 'keep')).toBe(true);
      // Within one member, each queue's messages came in increasing offset order.
      const last = new Map<string, number>();
      for (const r of m.received) {
        expect(r.queueOffset).toBeGreaterThan(last.get(queueKey(r)) ?? -1);
        last.set(queueKey(r), r.queueOffset);
      }
      // No pull request per answer: a subscription per queue and a few top-ups carried them all.
      const { reads } = m.consumer.stats();
      expect(reads.pull).toBe(0);
      expect(reads.pushed).toBeGreaterThan(0);
      expect(reads.subscribe + reads['top-up']).toBeLessThan(reads.pushed / 4);
    }
    // Idle again: each queue is held once, by its one owner; the queues the second member took
    // over are no longer held by the first.
    await expect.poll(async () => Promise.all(httpPorts.map(longPollWaiting)), { timeout: 10_000 }).toEqual([4, 4]);
    await Promise.all(group.map((m) => m.consumer.shutdown()));
    await expect.poll(async () => Promise.all(httpPorts.map(longPollWaiting)), { timeout: 10_000 }).toEqual([0, 0]);
  });

  it('gives three consumers of one group disjoint shares and every one of 20,000 messages exactly once', async () => {
    await admin.createTopic('groups-three', { queues: 8 });
    const group = [await member('groups-three', 'g-three'), await member('groups-three', 'g-three'), await member('groups-three', 'g-three')];
    const shares = await waitForBalancedShares('groups-three', group, 16);
    expect(shares.map((s) => s.length).sort()).toEqual([5, 5, 6]);

    const sent = await sendBatches('groups-three', 20_000);
    await expect.poll(() => group.reduce((n, m) => n + m.received.length, 0), { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(20_000);

    const all = group.flatMap((m) => m.received.map((r) => r.messageId));
    expect(all).toHaveLength(20_000);
    expect(new Set(all)).toEqual(new Set(sent));
    // Each member saw only messages of its own queues.
    group.forEach((m, i) => {
      const own = new Set(shares[i]);
      expect(m.received.every((r) => own.has(queueKey(r)))).toBe(true);
      expect(m.received.length).toBeGreaterThan(0);
    });
    await Promise.all(group.map((m) => m.consumer.shutdown()));
  });

  it('rebalances when a fourth consumer joins and one leaves, losing no message', async () => {
    await admin.createTopic('groups-churn', { queues: 8 });
    const group = [await member('groups-churn', 'g-churn'), await member('groups-churn', 'g-churn'), await member('groups-churn', 'g-churn')];
    await waitForBalancedShares('groups-churn', group, 16);

    const sent: string[] = [];
    sent.push(...(await sendBatches('groups-churn', 2_000, 100, 'before')));
    const fourth = await member('groups-churn', 'g-churn');
    group.push(fourth);
    const shares = await waitForBalancedShares('groups-churn', group, 16);
    expect(shares.map((s) => s.length)).toEqual([4, 4, 4, 4]);
    sent.push(...(await sendBatches('groups-churn', 2_000, 100, 'joined')));

    const leaving = group.shift() as Member;
    await leaving.consumer.shutdown();
    await waitForBalancedShares('groups-churn', group, 16);
    sent.push(...(await sendBatches('groups-churn', 2_000, 100, 'left')));

    const everyone = [leaving, ...group];
    await expect
      .poll(() => {
        const seen = new Set(everyone.flatMap((m) => m.received.map((r) => r.messageId)));
        return sent.filter((id) => !seen.has(id)).length;
      }, { timeout: 60_000, interval: 200 })
      .toBe(0);
    await Promise.all(group.map((m) => m.consumer.shutdown()));
  });

  it('delivers every message to each member in broadcasting mode', async () => {
    await admin.createTopic('broadcast', { queues: 4 });
    // Each member keeps its own offsets: two members on one machine need two offset directories.
    const a = await member('broadcast', 'g-broadcast', { mode: 'broadcasting', offsetDir: tempDir('conveyor-offsets-a-') });
    const b = await member('broadcast', 'g-broadcast', { mode: 'broadcasting', offsetDir: tempDir('conveyor-offsets-b-') });
    expect(a.consumer.assignment()).toHaveLength(8);
    expect(b.consumer.assignment()).toHaveLength(8);
    const sent = await sendBatches('broadcast', 1_000, 50);
    for (const m of [a, b]) {
      await expect.poll(() => new Set(m.received.map((r) => r.messageId)).size, { timeout: 30_000, interval: 100 }).toBe(1_000);
      expect(new Set(m.received.map((r) => r.messageId))).toEqual(new Set(sent));
    }
    await Promise.all([a.consumer.shutdown(), b.consumer.shutdown()]);
  });

  it('resumes a restarted consumer from its committed offset', async () => {
    await admin.createTopic('resume', { queues: 4 });
    const first = await member('resume', 'g-resume');
    const before = await sendBatches('resume', 600, 100, 'before');
    await expect.poll(() => first.received.length, { timeout: 30_000, interval: 100 }).toBe(600);
    await first.consumer.shutdown();
    const committed = await admin.describeGroup('g-resume', { topic: 'resume' });
    expect(committed.totalLag).toBe(0);

    const after = await sendBatches('resume', 400, 100, 'after');
    // `from: 'first'` applies only to queues without a committed offset: nothing of `before` again.
    const second = await member('resume', 'g-resume');
    await expect.poll(() => second.received.length, { timeout: 30_000, interval: 100 }).toBe(400);
    expect(new Set(second.received.map((r) => r.messageId))).toEqual(new Set(after));
    expect(second.received.some((r) => before.includes(r.messageId))).toBe(false);
    await second.consumer.shutdown();
  });

  it('starts a consumer `from: { timestamp }` at exactly the messages stored from that time on', async () => {
    await admin.createTopic('from-time', { queues: 4 });
    const sendStamped = async (count: number, prefix: string): Promise<Array<{ id: string; storedAt: number }>> => {
      const results = await producer.sendBatch('from-time', Array.from({ length: count }, (_, i) => ({ body: `${prefix}-${i}` })));
      return results.map((r) => ({ id: r.messageId, storedAt: r.storeTimestampMs }));
    };
    const before: Array<{ id: string; storedAt: number }> = [];
    for (let i = 0; i < 4; i++) before.push(...(await sendStamped(50, `before-${i}`)));
    // The start time: a millisecond past the last store time of `before`, and passed on this
    // machine's clock (which the brokers share) before the next sends.
    const from = Math.max(...before.map((m) => m.storedAt)) + 1;
    await expect.poll(() => Date.now(), { timeout: 1_000, interval: 1 }).toBeGreaterThan(from);
    const after: Array<{ id: string; storedAt: number }> = [];
    for (let i = 0; i < 4; i++) after.push(...(await sendStamped(50, `after-${i}`)));
    expect(after.every((m) => m.storedAt >= from)).toBe(true);
    const expected = new Set(after.map((m) => m.id));

    const push = await member('from-time', 'g-from-time', { from: { timestamp: from } });
    await expect.poll(() => push.received.length, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(after.length);
    expect(push.received).toHaveLength(after.length);
    expect(new Set(push.received.map((m) => m.messageId))).toEqual(expected);
    await push.consumer.shutdown();

    const pull = new PullConsumer({ nameservers: cluster.nameservers, group: 'g-from-time-pull', from: { timestamp: from } });
    await pull.start();
    try {
      await pull.assign(await pull.queues('from-time'));
      const polled: Message[] = [];
      for (let i = 0; i < 40 && polled.length < after.length; i++) polled.push(...(await pull.poll(64)));
      expect(polled).toHaveLength(after.length);
      expect(new Set(polled.map((m) => m.messageId))).toEqual(expected);
    } finally {
      await pull.shutdown();
    }
  });

  it('lets a pull consumer list queues, pull from any offset, commit and read the commit back', async () => {
    await admin.createTopic('pulled', { queues: 2 });
    const sent = await sendBatches('pulled', 100, 25);
    const pull = new PullConsumer({ nameservers: cluster.nameservers, group: 'g-pull', from: 'first' });
    await pull.start();
    try {
      const queues = await pull.queues('pulled');
      expect(queues.map(queueKey)).toEqual(['pulled@broker-a#0', 'pulled@broker-a#1', 'pulled@broker-b#0', 'pulled@broker-b#1']);
      const withMessages: MessageQueue[] = [];
      for (const q of queues) if ((await pull.range(q)).maxOffset > 0) withMessages.push(q);
      const queue = withMessages[0] as MessageQueue;
      const { maxOffset } = await pull.range(queue);
      const page = await pull.pull(queue, 0, 10);
      expect(page.status).toBe('FOUND');
      expect(page.messages.map((m) => m.queueOffset)).toEqual([...Array(Math.min(10, maxOffset)).keys()]);
      expect(page).toMatchObject({ nextOffset: page.messages.length, minOffset: 0, maxOffset });
      const end = await pull.pull(queue, maxOffset, 10);
      expect(end).toMatchObject({ status: 'NO_NEW_MESSAGE', messages: [], nextOffset: maxOffset });

      expect(await pull.committed(queue)).toBeUndefined();
      await pull.commit(queue, 5);
      expect(await pull.committed(queue)).toBe(5);

      // Assign + poll: every queue starts at its committed offset, else at `from`.
      await pull.assign(queues);
      expect(pull.position(queue)).toBe(5);
      const polled: Message[] = [];
      for (let i = 0; i < 40 && polled.length < 95; i++) polled.push(...(await pull.poll(32)));
      expect(polled).toHaveLength(95);
      expect(new Set(polled.map((m) => m.messageId)).size).toBe(95);
      expect(sent).toEqual(expect.arrayContaining(polled.map((m) => m.messageId)));
    } finally {
      await pull.shutdown();
    }
  });

  it('hands a message sent to an idle queue to a waiting consumer promptly (long polling)', async () => {
    await admin.createTopic('long-poll', { queues: 2 });
    const arrivals: number[] = [];
    const waiting = await member('long-poll', 'g-long-poll', { longPollMs: 15_000 }, () => void arrivals.push(Date.now()));
    await expect.poll(() => waiting.consumer.assignment().length, { timeout: 10_000 }).toBe(4);
    for (let i = 0; i < 3; i++) {
      const sentAt = Date.now();
      await producer.send('long-poll', { body: `ping-${i}` });
      await expect.poll(() => arrivals.length, { timeout: 5_000, interval: 10 }).toBe(i + 1);
      expect((arrivals[i] as number) - sentAt).toBeLessThan(2_000);
    }
    await waiting.consumer.shutdown();
  });
});
