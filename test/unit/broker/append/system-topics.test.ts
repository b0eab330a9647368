// System topics over a real store in a temp directory: the broker-side API (ensure, write through
// the Appender, read through the read path), the producer front and the admin API refusing them
// (ACCESS_DENIED, nothing stored or created), consumers pulling the consumable ones, and the
// Appender's writes staying outside producer de-duplication in both directions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Appender } from '../../../../broker/append/appender.js';
import { SystemTopics, systemTopicName } from '../../../../broker/append/system-topics.js';
import { DedupWindow } from '../../../../broker/dedup/dedup-window.js';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { AdminService } from '../../../../broker/services/admin.js';
import type { ServiceContext } from '../../../../broker/services/context.js';
import { PullService } from '../../../../broker/services/pull.js';
import { SendService } from '../../../../broker/services/send.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { validateAppendBatch, validateSendBatch } from '../../../../broker/validate.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';
import { silentLogger } from '../../../../common/logging.js';
import { isSystemTopic, SYSTEM_TOPIC_PREFIX } from '../../../../common/names.js';
import { decodeRecords, type RecordMessage } from '../../../../common/record.js';
import { conveyor } from '../../../../proto/index.js';
import { testServiceContext } from '../services/service-context.js';
import { codeOf } from '../../../helpers/errors.js';

const RETRY = systemTopicName('RETRY%group-a');
const SCHEDULE = systemTopicName('SCHEDULE');

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fixture {
  ctx: ServiceContext;
  store: MessageStore;
  send: SendService;
  admin: AdminService;
  pull: PullService;
}

/** A master over a fresh store with user topic 't' (2 queues) and auto-create on, so a refused send shows it created nothing. */
async function fixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-system-topics-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = await MessageStore.open({ dataDir: dir, segmentBytes: 1024 * 1024, backgroundTimers: false });
  cleanups.push(() => store.close());
  const topics = new TopicManager({ meta: store.meta, autoCreateTopics: true, defaultQueueCount: 4, onChange: () => undefined, log: silentLogger() });
  await topics.load();
  await topics.upsert({ topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6 });
  const dedup = new DedupWindow({ windowMs: 60_000, startedAtMs: Date.now(), newestStoredBeforeStartMs: null });
  const ctx = testServiceContext({ store, topics, dedup, longPolls: new LongPollTable(), clock: () => Date.now() });
  return { ctx, store, send: new SendService(ctx), admin: new AdminService(ctx), pull: new PullService(ctx) };
}

function message(messageId: string, properties: Record<string, string> = {}): RecordMessage {
  return { messageId, keys: [], tag: '', properties, body: Buffer.from(`body of ${messageId}`), bornTimestampMs: 5, flags: 0 };
}

function sendRequest(topic: string, messageId: string): conveyor.SendRequest {
  return conveyor.SendRequest.create({ topic, queueId: 0, producerGroup: 'pg', messages: [conveyor.MessageInput.create({ messageId, body: Buffer.from(messageId), bornTimestampMs: 1 })] });
}


async function readAll(f: Fixture, topic: string, queueId: number): Promise<Array<{ messageId: string; queueOffset: number; properties: Record<string, string> }>> {
  const read = await f.ctx.systemTopics.read(topic, queueId, 0, { maxCount: 100, maxBytes: 1 << 20 });
  return [...decodeRecords(read.records)].map((r) => ({ messageId: r.messageId, queueOffset: r.queueOffset, properties: { ...r.properties } }));
}

describe('system topic names', () => {
  it('are the names with the reserved prefix, and must still be valid topic names', () => {
    expect(RETRY).toBe(`${SYSTEM_TOPIC_PREFIX}RETRY%group-a`);
    expect([isSystemTopic(RETRY), isSystemTopic('t'), isSystemTopic('SYS_orders'), isSystemTopic('%RETRY%g')]).toEqual([true, false, false, false]);
    expect(() => systemTopicName('x'.repeat(127))).toThrow(/invalid topic name/);
    expect(() => systemTopicName('a b')).toThrow(/invalid topic name/);
  });

  it('are refused to a producer batch and accepted for the Appender', () => {
    const refused = (() => {
      try {
        validateSendBatch(RETRY, 'pg', [message('a')]);
        return 'OK';
      } catch (err) {
        return isConveyorError(err) ? err.codeName : String(err);
      }
    })();
    expect(refused).toBe('ACCESS_DENIED');
    expect(validateAppendBatch(RETRY, [message('a')])).toHaveLength(1);
  });
});

describe('system topics', () => {
  it('ensure creates a topic once, even when called concurrently, and then returns its config as it is', async () => {
    const f = await fixture();
    const [first, second] = await Promise.all([f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true }), f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true })]);
    expect(first).toEqual({ topicName: RETRY, readQueueCount: 1, writeQueueCount: 1, perm: 6, ordered: false });
    expect(second).toBe(first);
    expect(await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 8, consumable: false })).toBe(first);
    expect((await f.ctx.systemTopics.ensure({ topicName: SCHEDULE, queueCount: 2, consumable: false })).perm).toBe(2);
    expect((await f.store.meta.listTopics()).map((t) => t.topicName).sort()).toEqual([RETRY, SCHEDULE, 't'].sort());
  });

  it('ensure refuses on a slave with NOT_MASTER and creates nothing', async () => {
    const f = await fixture();
    const slave = new SystemTopics({ topics: f.ctx.topics, store: f.store, appender: new Appender({ store: f.store, identity: { brokerName: 'broker-a', brokerId: 1 }, replication: { sync: undefined }, metrics: f.ctx.metrics }) });
    expect(await codeOf(slave.ensure({ topicName: RETRY, queueCount: 1, consumable: true }))).toBe('NOT_MASTER');
    expect(f.ctx.topics.get(RETRY)).toBeUndefined();
  });

  it('writes through the Appender and reads back through the read path with ids and properties as given', async () => {
    const f = await fixture();
    await f.ctx.systemTopics.ensure({ topicName: SCHEDULE, queueCount: 2, consumable: false });
    const written = await f.ctx.systemTopics.write(SCHEDULE, 1, [message('producer-id-1', { REAL_TOPIC: 't', DELIVER_AT_MS: '123' }), message('producer-id-2')]);
    expect(written.status).toBe(ErrorCode.OK);
    expect(written.results.map((r) => [r.topic, r.queueId, r.queueOffset])).toEqual([
      [SCHEDULE, 1, 0],
      [SCHEDULE, 1, 1],
    ]);
    expect(await readAll(f, SCHEDULE, 1)).toEqual([
      { messageId: 'producer-id-1', queueOffset: 0, properties: { REAL_TOPIC: 't', DELIVER_AT_MS: '123' } },
      { messageId: 'producer-id-2', queueOffset: 1, properties: {} },
    ]);
  });

  it('refuses a write to a system topic not yet ensured or to a queue it does not have, and stores nothing', async () => {
    const f = await fixture();
    expect(await codeOf(f.ctx.systemTopics.write(RETRY, 0, [message('a')]))).toBe('TOPIC_NOT_FOUND');
    await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true });
    expect(await codeOf(f.ctx.systemTopics.write(RETRY, 1, [message('a')]))).toBe('QUEUE_NOT_FOUND');
    expect(await codeOf(f.ctx.systemTopics.write(RETRY, 0, [message('')]))).toBe('INVALID_ARGUMENT');
    expect(f.store.maxPhysicalOffset).toBe(0);
  });

  it('refuses a producer send to a system topic with ACCESS_DENIED, stores nothing and creates no topic', async () => {
    const f = await fixture();
    // Not there yet: auto-create is on, but the name is the broker's.
    expect(await codeOf(f.send.send(sendRequest(SCHEDULE, 'a')))).toBe('ACCESS_DENIED');
    expect(f.ctx.topics.get(SCHEDULE)).toBeUndefined();
    // There and writable by its perm: still the broker's only.
    await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true });
    expect(await codeOf(f.send.send(sendRequest(RETRY, 'b')))).toBe('ACCESS_DENIED');
    expect(f.store.maxPhysicalOffset).toBe(0);
    expect(f.store.queueRange(RETRY, 0).maxQueueOffset).toBe(0);
    // The refused ids were not remembered: a send of them to a user topic is stored.
    expect((await f.send.send(sendRequest('t', 'b'))).results?.[0]?.duplicate).toBe(false);
  });

  it('refuses creating, changing and deleting a system topic through the admin API with ACCESS_DENIED', async () => {
    const f = await fixture();
    const upsert = (perm: number) => f.admin.upsertTopic(conveyor.UpsertTopicRequest.create({ config: { topicName: RETRY, readQueueCount: 4, writeQueueCount: 4, perm } }));
    expect(await codeOf(upsert(6))).toBe('ACCESS_DENIED');
    expect(f.ctx.topics.get(RETRY)).toBeUndefined();
    const config = await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true });
    expect(await codeOf(upsert(4))).toBe('ACCESS_DENIED');
    expect(await codeOf(f.admin.deleteTopic(conveyor.DeleteTopicRequest.create({ topic: RETRY })))).toBe('ACCESS_DENIED');
    expect(f.ctx.topics.get(RETRY)).toBe(config);
  });

  it('lets consumers pull a consumable system topic, and not one only the broker reads', async () => {
    const f = await fixture();
    await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true });
    await f.ctx.systemTopics.ensure({ topicName: SCHEDULE, queueCount: 1, consumable: false });
    await f.ctx.systemTopics.write(RETRY, 0, [message('retried')]);
    const pulled = await f.pull.pull(conveyor.PullRequest.create({ consumerGroup: 'group-a', topic: RETRY, queueId: 0, queueOffset: 0, maxCount: 10 }));
    expect(pulled.status).toBe(conveyor.PullStatus.PULL_FOUND);
    expect([...decodeRecords(Buffer.from(pulled.records as Uint8Array))].map((r) => r.messageId)).toEqual(['retried']);
    expect(await codeOf(f.pull.pull(conveyor.PullRequest.create({ consumerGroup: 'group-a', topic: SCHEDULE, queueId: 0, queueOffset: 0, maxCount: 10 })))).toBe('TOPIC_NOT_READABLE');
  });
});

describe('the Appender and producer de-duplication', () => {
  it('stores a re-append of an id the front stored, while the same id through the front is a duplicate', async () => {
    const f = await fixture();
    await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true });
    const original = await f.send.send(sendRequest('t', 'x'));
    expect(original.results?.[0]).toMatchObject({ duplicate: false, queueOffset: 0 });
    const first = await f.ctx.systemTopics.write(RETRY, 0, [message('x', { RETRY_TIMES: '1' })]);
    const second = await f.ctx.systemTopics.write(RETRY, 0, [message('x', { RETRY_TIMES: '2' })]);
    expect([first.results[0]!.queueOffset, second.results[0]!.queueOffset]).toEqual([0, 1]);
    expect((await readAll(f, RETRY, 0)).map((r) => [r.messageId, r.properties.RETRY_TIMES])).toEqual([
      ['x', '1'],
      ['x', '2'],
    ]);
    const resent = await f.send.send(sendRequest('t', 'x'));
    expect(resent.results?.[0]).toMatchObject({ duplicate: true, queueId: 0, queueOffset: 0, physicalOffset: original.results?.[0]?.physicalOffset });
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(1);
  });

  it('fills no dedup window: an id the Appender stored is fresh to a producer', async () => {
    const f = await fixture();
    await f.ctx.systemTopics.ensure({ topicName: RETRY, queueCount: 1, consumable: true });
    await f.ctx.systemTopics.write(RETRY, 0, [message('y')]);
    expect(f.ctx.dedup.size).toBe(0);
    expect((await f.send.send(sendRequest('t', 'y'))).results?.[0]).toMatchObject({ duplicate: false, queueId: 0, queueOffset: 0 });
  });
});
