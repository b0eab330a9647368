// Producer and error codes against real processes: a re-sent message id is stored once (also
// across a broker restart), and every bad input of issue 4 point 7 reaches the client API with its
// stable code.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, ConveyorError, ErrorCode, Producer, PullConsumer, PushConsumer, errorCodeName, type SendResult } from '../../client/index.js';
import { isRetryableSendError } from '../../client/retry-policy.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { MESSAGE_BODY_BYTES_MAX } from '../../common/limits.js';
import { BrokerService } from '../../proto/index.js';
import { startTestCluster, type TestCluster } from './client-fixture.js';

async function codeOf(work: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    if (err instanceof ConveyorError) return errorCodeName(err.code);
    throw err;
  }
  return 'no error';
}

describe('producer and error codes', () => {
  let cluster: TestCluster;
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    // Auto-create off, so an unknown topic stays unknown; broker-a has a slave.
    cluster = await startTestCluster({ autoCreateTopics: false, slavesFor: ['broker-a'] });
    admin = new Admin({ nameservers: cluster.nameservers });
    producer = new Producer({ nameservers: cluster.nameservers, retries: 2 });
    await admin.start();
    await producer.start();
  });

  afterAll(async () => {
    await producer?.shutdown();
    await admin?.shutdown();
  });

  it('stores a message re-sent with the same id once, also after the broker restarts', async () => {
    // One broker group only, so every send of the id reaches the broker that remembers it.
    const created = await admin.createTopic('dedup', { queues: 2, brokers: ['broker-a'] });
    expect(created.routed).toBe(true);
    const first = await producer.send('dedup', { body: 'once', messageId: 'order-7-payment' });
    expect(first).toMatchObject({ status: 'OK', duplicate: false, brokerName: 'broker-a' });
    const again = await producer.send('dedup', { body: 'once', messageId: 'order-7-payment' });
    expect(again).toMatchObject({ duplicate: true, brokerName: 'broker-a', queueId: first.queueId, queueOffset: first.queueOffset });

    await cluster.broker('broker-a').restart();
    // The producer's channel to the old process fails over to the new one; retries cover the gap.
    await expect.poll(async () => (await producer.send('dedup', { body: 'once', messageId: 'order-7-payment' }).catch(() => undefined))?.duplicate, { timeout: 30_000, interval: 200 }).toBe(true);

    const stored = await admin.describeTopic('dedup');
    expect(stored.queues.reduce((sum, q) => sum + q.maxOffset - q.minOffset, 0)).toBe(1);
    const found = await admin.getMessageById('order-7-payment');
    expect(found).toHaveLength(1);
    expect(found[0]?.body.toString()).toBe('once');
  });

  it('retries a send that failed on a killed broker on another broker group, with the same message id', async () => {
    await admin.createTopic('failover', { queues: 4 });
    const fresh = new Producer({ nameservers: cluster.nameservers, retries: 2 });
    await fresh.start();
    const brokerA = cluster.broker('broker-a');
    // Killed, not stopped: a clean stop would unregister it from the nameserver at once.
    brokerA.process.signal('SIGKILL');
    await brokerA.process.exited;
    try {
      // The route still lists broker-a (the nameserver has not expired it): the first send that picks
      // it fails, is retried on broker-b, and broker-a is then skipped.
      for (let i = 0; i < 8; i++) {
        const result = await fresh.send('failover', { body: `f${i}`, messageId: `failover-${i}` });
        expect(result).toMatchObject({ status: 'OK', brokerName: 'broker-b', messageId: `failover-${i}` });
      }
      expect(fresh.stats().retries).toBeGreaterThanOrEqual(1);
    } finally {
      await fresh.shutdown();
      await brokerA.restart();
    }
    expect(await admin.getMessageById('failover-0')).toHaveLength(1);
  });

  it('spreads plain sends round-robin over the queues of every master', async () => {
    await admin.createTopic('spread', { queues: 4 });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => producer.send('spread', { body: `m${i}` })));
    const used = new Set(results.map((r) => `${r.brokerName}#${r.queueId}`));
    expect(used.size).toBe(8);
    expect(new Set(results.map((r) => r.messageId)).size).toBe(16);
  });

  it('with rpcsInFlightPerQueue 4 every coalesced send gets its own stored result (the policy itself: send-coalescer unit test), and 0 is refused', async () => {
    expect(() => new Producer({ nameservers: cluster.nameservers, rpcsInFlightPerQueue: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    await admin.createTopic('lanes', { queues: 1 });
    const wide = new Producer({ nameservers: cluster.nameservers, rpcsInFlightPerQueue: 4 });
    await wide.start();
    try {
      const sends: Promise<SendResult>[] = [];
      for (let i = 0; i < 300; i++) {
        sends.push(wide.send('lanes', { body: `l${i}` }));
        // A new tick every 10 sends: each group is its own RPC while the earlier ones are in flight.
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      const results = await Promise.all(sends);
      expect(results.every((r) => r.status === 'OK')).toBe(true);
      expect(new Set(results.map((r) => r.messageId)).size).toBe(300);
      // Per broker group, the queue offsets are distinct and without gaps.
      for (const name of new Set(results.map((r) => r.brokerName))) {
        const offsets = results.filter((r) => r.brokerName === name).map((r) => r.queueOffset).sort((a, b) => a - b);
        expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i));
      }
    } finally {
      await wide.shutdown();
    }
  });

  it('keeps messages with one sharding key in one queue, in order', async () => {
    await admin.createTopic('ordered', { queues: 4 });
    const results: SendResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await producer.sendOrdered('ordered', { body: `step-${i}` }, 'order-42'));
    expect(new Set(results.map((r) => `${r.brokerName}#${r.queueId}`)).size).toBe(1);
    expect(results.map((r) => r.queueOffset)).toEqual(results.map((_, i) => (results[0]?.queueOffset ?? 0) + i));
  });

  it('sends oneway without waiting and counts the outcome', async () => {
    await admin.createTopic('oneway', { queues: 1 });
    for (let i = 0; i < 20; i++) producer.sendOneway('oneway', { body: `o${i}` });
    await expect.poll(() => producer.stats().onewaySent, { timeout: 10_000 }).toBeGreaterThanOrEqual(20);
    expect(producer.stats().onewayFailed).toBe(0);
  });

  it('reports an unknown topic as TOPIC_NOT_FOUND from every API', async () => {
    expect(await codeOf(producer.send('no-such-topic', { body: 'x' }))).toBe('TOPIC_NOT_FOUND');
    expect(await codeOf(admin.describeTopic('no-such-topic'))).toBe('TOPIC_NOT_FOUND');
    const pull = new PullConsumer({ nameservers: cluster.nameservers, group: 'g-pull' });
    await pull.start();
    expect(await codeOf(pull.queues('no-such-topic'))).toBe('TOPIC_NOT_FOUND');
    await pull.shutdown();
    // A consumer group whose topic has no route cannot start.
    const push = new PushConsumer({ nameservers: cluster.nameservers, group: 'g-no-route', topic: 'no-such-topic', handler: () => undefined });
    expect(await codeOf(push.start())).toBe('TOPIC_NOT_FOUND');
    expect(await codeOf(admin.describeGroup('g-never-seen'))).toBe('GROUP_NOT_FOUND');
  });

  it('refuses invalid names with INVALID_NAME before anything is sent', async () => {
    expect(await codeOf(producer.send('bad topic', { body: 'x' }))).toBe('INVALID_NAME');
    expect(await codeOf(admin.createTopic('x'.repeat(128)))).toBe('INVALID_NAME');
    expect(await codeOf(() => new PushConsumer({ nameservers: cluster.nameservers, group: 'bad/group', topic: 't', handler: () => undefined }))).toBe('INVALID_NAME');
    expect(await codeOf(() => new Producer({ group: 'bad group' }))).toBe('INVALID_NAME');
  });

  it('refuses an oversize body with MESSAGE_TOO_LARGE, in the client and at the broker', async () => {
    await admin.createTopic('large', { queues: 1 });
    const body = Buffer.alloc(MESSAGE_BODY_BYTES_MAX + 1);
    expect(await codeOf(producer.send('large', { body }))).toBe('MESSAGE_TOO_LARGE');
    const master = new grpc.Client(cluster.broker('broker-a').address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    try {
      const direct = callUnary(master, BrokerService.send, { topic: 'large', queueId: 0, messages: [{ messageId: 'big-1', body }] }, 10_000);
      expect(await codeOf(direct)).toBe('MESSAGE_TOO_LARGE');
    } finally {
      master.close();
    }
  });

  it('gets NOT_MASTER from a slave, a code the producer retries on another broker', async () => {
    await admin.createTopic('to-slave', { queues: 1 });
    const slave = new grpc.Client(cluster.broker('broker-a', 1).address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    try {
      const sent = callUnary(slave, BrokerService.send, { topic: 'to-slave', queueId: 0, messages: [{ messageId: 'to-slave-1', body: Buffer.from('x') }] }, 10_000);
      expect(await codeOf(sent)).toBe('NOT_MASTER');
    } finally {
      slave.close();
    }
    expect(isRetryableSendError(ErrorCode.NOT_MASTER)).toBe(true);
  });

  it('reports SERVICE_UNAVAILABLE when no nameserver answers', async () => {
    const lost = new Producer({ nameservers: '127.0.0.1:1', requestTimeoutMs: 1_000 });
    await lost.start();
    expect(await codeOf(lost.send('dedup', { body: 'x' }))).toBe('SERVICE_UNAVAILABLE');
    await lost.shutdown();
  });
});
