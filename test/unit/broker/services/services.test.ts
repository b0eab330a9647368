// The send, pull and offset services against a real store in a temp directory, with an injected
// clock: de-duplication (batch, concurrent, window expiry, after a reopen), long polling (wake,
// timeout, cancel, shutdown) and the edge checks that need topic state.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { DedupWindow } from '../../../../broker/dedup/dedup-window.js';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { AdminService } from '../../../../broker/services/admin.js';
import type { ReplicationView } from '../../../../broker/replication/index.js';
import type { ServiceContext } from '../../../../broker/services/context.js';
import { OffsetService } from '../../../../broker/services/offsets.js';
import { LONG_POLL_DEADLINE_MARGIN_MS, PullService, longPollHoldMs } from '../../../../broker/services/pull.js';
import { SYNC_WAIT_DEADLINE_MARGIN_MS, SendService } from '../../../../broker/services/send.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';
import { silentLogger } from '../../../../common/logging.js';
import { decodeRecords } from '../../../../common/record.js';
import { conveyor } from '../../../../proto/index.js';
import { testServiceContext } from './service-context.js';
import { codeOf } from '../../../helpers/errors.js';

const WINDOW_MS = 60_000;
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fixture {
  ctx: ServiceContext;
  send: SendService;
  pull: PullService;
  offsets: OffsetService;
  admin: AdminService;
  store: MessageStore;
  clock: { now: number };
  stopping: { value: boolean };
  dir: string;
}

async function fixture(options: { dir?: string; brokerId?: number; autoCreateTopics?: boolean; clock?: { now: number }; replication?: ReplicationView } = {}): Promise<Fixture> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'conveyor-services-'));
  if (options.dir === undefined) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const clock = options.clock ?? { now: 1_000_000 };
  const store = await MessageStore.open({ dataDir: dir, segmentBytes: 1024 * 1024, clock: () => clock.now, backgroundTimers: false });
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await store.close();
    closed = true;
  };
  cleanups.push(close);
  const topics = new TopicManager({ meta: store.meta, autoCreateTopics: options.autoCreateTopics ?? false, defaultQueueCount: 4, onChange: () => undefined, log: silentLogger() });
  await topics.load();
  // As the broker does: an empty store holds no earlier ids (no store lookups); a reopened one may (lookups for a window).
  const dedup = new DedupWindow({ windowMs: WINDOW_MS, startedAtMs: clock.now, newestStoredBeforeStartMs: store.maxPhysicalOffset === 0 ? null : undefined });
  const longPolls = new LongPollTable();
  const stopping = { value: false };
  const ctx = testServiceContext({ store, topics, dedup, longPolls, clock: () => clock.now, brokerId: options.brokerId, replication: options.replication, isStopping: () => stopping.value });
  const unsubscribe = store.onDispatch((topic, queueId, max) => longPolls.notify(topic, queueId, max));
  cleanups.push(unsubscribe);
  const f: Fixture = { ctx, send: new SendService(ctx), pull: new PullService(ctx), offsets: new OffsetService(ctx), admin: new AdminService(ctx), store, clock, stopping, dir };
  Object.assign(f, { close });
  return f;
}

function closeOf(f: Fixture): () => Promise<void> {
  return (f as unknown as { close: () => Promise<void> }).close;
}

function msg(messageId: string, body = messageId, extra: Partial<conveyor.IMessageInput> = {}): conveyor.MessageInput {
  return conveyor.MessageInput.create({ messageId, body: Buffer.from(body), bornTimestampMs: 1, ...extra });
}

function sendRequest(topic: string, queueId: number, messages: conveyor.MessageInput[]): conveyor.SendRequest {
  return conveyor.SendRequest.create({ topic, queueId, producerGroup: 'pg', messages });
}

function pullRequest(fields: Partial<conveyor.IPullRequest>): conveyor.PullRequest {
  return conveyor.PullRequest.create({ consumerGroup: 'g', topic: 't', queueId: 0, queueOffset: 0, ...fields });
}

/** A stand-in for the gRPC call object of a pull: a deadline and the 'cancelled' event. */
function fakeCall(deadlineMs = Number.POSITIVE_INFINITY): grpc.ServerUnaryCall<conveyor.PullRequest, conveyor.IPullResponse> & EventEmitter {
  const call = new EventEmitter() as EventEmitter & { getDeadline: () => number };
  call.getDeadline = () => deadlineMs;
  return call as unknown as grpc.ServerUnaryCall<conveyor.PullRequest, conveyor.IPullResponse> & EventEmitter;
}


async function createTopic(f: Fixture, topicName = 't', queues = 2, perm = 6): Promise<void> {
  await f.admin.upsertTopic(conveyor.UpsertTopicRequest.create({ config: { topicName, readQueueCount: queues, writeQueueCount: queues, perm } }));
}

describe('send', () => {
  it('stores a batch and answers one result per message in order', async () => {
    const f = await fixture();
    await createTopic(f);
    const response = await f.send.send(sendRequest('t', 1, [msg('a'), msg('b')]));
    expect(response.results?.map((r) => [r.messageId, r.queueId, r.queueOffset, r.duplicate, r.brokerName])).toEqual([
      ['a', 1, 0, false, 'broker-a'],
      ['b', 1, 1, false, 'broker-a'],
    ]);
    expect(f.store.queueRange('t', 1).maxQueueOffset).toBe(2);
  });

  it('stores a repeated id once within one batch and answers both with the same offset', async () => {
    const f = await fixture();
    await createTopic(f);
    const response = await f.send.send(sendRequest('t', 0, [msg('a'), msg('b'), msg('a')]));
    expect(response.results?.map((r) => [r.messageId, r.queueOffset, r.duplicate])).toEqual([
      ['a', 0, false],
      ['b', 1, false],
      ['a', 0, true],
    ]);
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(2);
  });

  it('stores an id once when two sends of it run concurrently, even to different queues', async () => {
    const f = await fixture();
    await createTopic(f);
    const [first, second] = await Promise.all([f.send.send(sendRequest('t', 0, [msg('x')])), f.send.send(sendRequest('t', 1, [msg('x')]))]);
    expect(first.results?.[0]).toMatchObject({ duplicate: false, queueId: 0, queueOffset: 0 });
    expect(second.results?.[0]).toMatchObject({ duplicate: true, queueId: 0, queueOffset: 0, physicalOffset: first.results?.[0]?.physicalOffset });
    expect(f.store.queueRange('t', 1).maxQueueOffset).toBe(0);
  });

  it('answers an id that a concurrent batch is storing with that batch\'s result, and stores the rest', async () => {
    const f = await fixture();
    await createTopic(f);
    const [first, second] = await Promise.all([f.send.send(sendRequest('t', 0, [msg('a'), msg('b')])), f.send.send(sendRequest('t', 1, [msg('c'), msg('b')]))]);
    expect(first.results?.map((r) => [r.messageId, r.queueId, r.queueOffset, r.duplicate])).toEqual([
      ['a', 0, 0, false],
      ['b', 0, 1, false],
    ]);
    expect(second.results?.map((r) => [r.messageId, r.queueId, r.queueOffset, r.duplicate])).toEqual([
      ['c', 1, 0, false],
      ['b', 0, 1, true],
    ]);
    expect(second.results?.[1]?.physicalOffset).toBe(first.results?.[1]?.physicalOffset);
    expect(f.store.queueRange('t', 1).maxQueueOffset).toBe(1);
  });

  it('releases the ids of a batch the store refused, so a later send of them is stored', async () => {
    const f = await fixture();
    await createTopic(f);
    // Within the broker's body limit, over what a 1 MiB test segment can hold: the store refuses it.
    const tooBig = 'x'.repeat(1536 * 1024);
    const [first, second] = await Promise.all([codeOf(f.send.send(sendRequest('t', 0, [msg('x', tooBig)]))), codeOf(f.send.send(sendRequest('t', 1, [msg('x', tooBig)])))]);
    expect([first, second]).toEqual(['MESSAGE_TOO_LARGE', 'MESSAGE_TOO_LARGE']);
    const again = await f.send.send(sendRequest('t', 0, [msg('x')]));
    expect(again.results?.[0]).toMatchObject({ duplicate: false, queueId: 0, queueOffset: 0 });
  });

  it('answers a fresh batch in the compact stored form when the client accepts it, and per message otherwise', async () => {
    const f = await fixture();
    await createTopic(f);
    const full = await f.send.send(sendRequest('t', 1, [msg('a'), msg('bb'), msg('ccc')]));
    expect(full.stored ?? undefined).toBeUndefined();
    const request = sendRequest('t', 1, [msg('d'), msg('ee'), msg('fff')]);
    request.acceptsStoredBatch = true;
    const compact = conveyor.SendResponse.decode(conveyor.SendResponse.encode(await f.send.send(request)).finish());
    expect(compact.results).toEqual([]);
    const stored = compact.stored!;
    expect(stored).toMatchObject({ status: ErrorCode.OK, brokerName: 'broker-a', queueId: 1, firstQueueOffset: 3 });
    // Records follow each other directly; 'ccc' is 4 bytes longer than 'd' and 2 longer than 'ee' (id and body one byte each).
    const cccSize = (stored.firstPhysicalOffset as number) - (full.results![2]!.physicalOffset as number);
    expect(stored.physicalOffsetDeltas).toEqual([0, cccSize - 4, cccSize - 2]);
    expect(stored.storeTimestampMs).toBe(f.clock.now);
    const records = [...decodeRecords((await f.store.read('t', 1, 3, { maxCount: 10, maxBytes: 1 << 20 })).records)];
    let physicalOffset = stored.firstPhysicalOffset as number;
    records.forEach((record, i) => {
      physicalOffset += stored.physicalOffsetDeltas![i]!;
      expect([record.messageId, record.queueOffset, record.physicalOffset]).toEqual([['d', 'ee', 'fff'][i], 3 + i, physicalOffset]);
    });
  });

  it('answers per message when a batch holds a duplicate, even if the client accepts the compact form', async () => {
    const f = await fixture();
    await createTopic(f);
    const request = sendRequest('t', 0, [msg('a'), msg('a')]);
    request.acceptsStoredBatch = true;
    const response = await f.send.send(request);
    expect(response.stored ?? undefined).toBeUndefined();
    expect(response.results?.map((r) => [r.messageId, r.queueOffset, r.duplicate])).toEqual([
      ['a', 0, false],
      ['a', 0, true],
    ]);
  });

  it('stores an id again once its original is older than the window', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 0, [msg('x')]));
    f.clock.now += WINDOW_MS - 1;
    expect((await f.send.send(sendRequest('t', 0, [msg('x')]))).results?.[0]?.duplicate).toBe(true);
    f.clock.now += 2;
    expect((await f.send.send(sendRequest('t', 0, [msg('x')]))).results?.[0]).toMatchObject({ duplicate: false, queueOffset: 1 });
  });

  it('finds a duplicate in the store index after a reopen, within the window only', async () => {
    const first = await fixture();
    await createTopic(first);
    const original = await first.send.send(sendRequest('t', 0, [msg('kept'), msg('old')]));
    await closeOf(first)();
    first.clock.now += 1_000;
    const reopened = await fixture({ dir: first.dir, clock: first.clock });
    const again = await reopened.send.send(sendRequest('t', 1, [msg('kept'), msg('new')]));
    expect(again.results?.[0]).toMatchObject({ duplicate: true, queueId: 0, queueOffset: 0, physicalOffset: original.results?.[0]?.physicalOffset, storeTimestampMs: original.results?.[0]?.storeTimestampMs });
    expect(again.results?.[1]).toMatchObject({ duplicate: false, queueId: 1, queueOffset: 0 });
    expect(reopened.store.queueRange('t', 0).maxQueueOffset).toBe(2);
    reopened.clock.now += WINDOW_MS;
    expect((await reopened.send.send(sendRequest('t', 0, [msg('old')]))).results?.[0]).toMatchObject({ duplicate: false, queueOffset: 2 });
  });

  it('refuses sends on a slave, to a read-only topic, to an unknown topic or queue, and changes nothing', async () => {
    const slave = await fixture({ brokerId: 1 });
    await slave.ctx.topics.upsert({ topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6 }); // as the metadata copy does
    expect(await codeOf(slave.send.send(sendRequest('t', 0, [msg('a')])))).toBe('NOT_MASTER');
    const f = await fixture();
    await createTopic(f, 'ro', 2, 4);
    expect(await codeOf(f.send.send(sendRequest('ro', 0, [msg('a')])))).toBe('TOPIC_NOT_WRITABLE');
    expect(await codeOf(f.send.send(sendRequest('nope', 0, [msg('a')])))).toBe('TOPIC_NOT_FOUND');
    await createTopic(f);
    expect(await codeOf(f.send.send(sendRequest('t', 2, [msg('a')])))).toBe('QUEUE_NOT_FOUND');
    expect(await codeOf(f.send.send(sendRequest('t', 0, [msg('a'), msg('')])))).toBe('INVALID_ARGUMENT');
    expect(f.store.maxPhysicalOffset).toBe(0);
    // The failed ids were not remembered: they can be sent now.
    expect((await f.send.send(sendRequest('t', 0, [msg('a')]))).results?.[0]?.duplicate).toBe(false);
  });

  it('auto-creates an unknown topic with the default queue count when enabled', async () => {
    const f = await fixture({ autoCreateTopics: true });
    const response = await f.send.send(sendRequest('fresh', 3, [msg('a')]));
    expect(response.results?.[0]).toMatchObject({ queueId: 3, queueOffset: 0 });
    expect(f.ctx.topics.get('fresh')).toMatchObject({ readQueueCount: 4, writeQueueCount: 4, perm: 6 });
  });
});

describe('send with sync replication', () => {
  /** A master's sync replication that answers `code` and records what each send waited for. */
  function syncReplication(code: conveyor.ErrorCode.OK | conveyor.ErrorCode.SLAVE_TIMEOUT | conveyor.ErrorCode.SLAVE_NOT_AVAILABLE) {
    const waits: Array<{ end: number; timeoutMs: number }> = [];
    const view: ReplicationView = {
      lag: () => ({ bytes: 0, ms: 0 }),
      configsChanged: () => undefined,
      sync: {
        timeoutMs: 1_500,
        waitForReplication: (end, timeoutMs) => {
          waits.push({ end, timeoutMs });
          return Promise.resolve(code);
        },
      },
    };
    return { view, waits };
  }

  it('waits for the end of the stored batch and puts the answer into every result', async () => {
    const { view, waits } = syncReplication(conveyor.ErrorCode.SLAVE_TIMEOUT);
    const f = await fixture({ replication: view });
    await createTopic(f);
    const response = await f.send.send(sendRequest('t', 0, [msg('a'), msg('b')]));
    expect(response.results?.map((r) => r.status)).toEqual([conveyor.ErrorCode.SLAVE_TIMEOUT, conveyor.ErrorCode.SLAVE_TIMEOUT]);
    expect(waits).toEqual([{ end: f.store.maxPhysicalOffset, timeoutMs: 1_500 }]);
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(2); // stored on the master either way
  });

  it('waits for one byte past a duplicate, whose size is not remembered', async () => {
    const { view, waits } = syncReplication(conveyor.ErrorCode.OK);
    const f = await fixture({ replication: view });
    await createTopic(f);
    const first = await f.send.send(sendRequest('t', 0, [msg('a')]));
    await f.send.send(sendRequest('t', 0, [msg('b')]));
    const again = await f.send.send(sendRequest('t', 0, [msg('a')]));
    expect(again.results?.[0]).toMatchObject({ duplicate: true, status: conveyor.ErrorCode.OK });
    expect(waits[2]?.end).toBe((first.results?.[0]?.physicalOffset ?? -1) + 1);
  });

  it('stops waiting before the call deadline, so the answer beats the client', async () => {
    const { view, waits } = syncReplication(conveyor.ErrorCode.SLAVE_NOT_AVAILABLE);
    const f = await fixture({ replication: view });
    await createTopic(f);
    const call = fakeCall(Date.now() + 1_000) as unknown as grpc.ServerUnaryCall<conveyor.SendRequest, conveyor.ISendResponse>;
    const response = await f.send.send(sendRequest('t', 0, [msg('a')]), call);
    expect(response.results?.[0]?.status).toBe(conveyor.ErrorCode.SLAVE_NOT_AVAILABLE);
    expect(waits[0]?.timeoutMs).toBeLessThanOrEqual(1_000 - SYNC_WAIT_DEADLINE_MARGIN_MS);
    expect(waits[0]?.timeoutMs).toBeGreaterThan(500);
  });

  it('answers OK without waiting under async replication', async () => {
    const f = await fixture();
    await createTopic(f);
    expect((await f.send.send(sendRequest('t', 0, [msg('a')]))).results?.[0]?.status).toBe(conveyor.ErrorCode.OK);
  });
});

describe('pull and long polling', () => {
  it('computes the hold from the request, the server cap and the deadline margin', () => {
    expect(longPollHoldMs(5_000, 15_000, Number.POSITIVE_INFINITY)).toBe(5_000);
    expect(longPollHoldMs(30_000, 15_000, Number.POSITIVE_INFINITY)).toBe(15_000);
    expect(longPollHoldMs(30_000, 15_000, 4_000)).toBe(4_000 - LONG_POLL_DEADLINE_MARGIN_MS);
    expect(longPollHoldMs(30_000, 15_000, 500)).toBe(0);
    expect(longPollHoldMs(0, 15_000, 10_000)).toBe(0);
  });

  it('returns stored records, next offset and range, capped by max_count', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 0, [msg('a'), msg('b'), msg('c')]));
    const answer = await f.pull.pull(pullRequest({ maxCount: 2 }));
    expect([...decodeRecords(Buffer.from(answer.records!))].map((r) => r.messageId)).toEqual(['a', 'b']);
    expect(answer).toMatchObject({ status: conveyor.PullStatus.PULL_FOUND, recordCount: 2, nextQueueOffset: 2, minQueueOffset: 0, maxQueueOffset: 3 });
  });

  it('answers at once with no new message when max_wait_ms is 0', async () => {
    const f = await fixture();
    await createTopic(f);
    const answer = await f.pull.pull(pullRequest({ maxWaitMs: 0 }));
    expect(answer).toMatchObject({ status: conveyor.PullStatus.PULL_NO_NEW_MESSAGE, recordCount: 0, nextQueueOffset: 0 });
    expect(f.ctx.longPolls.size).toBe(0);
  });

  it('wakes a held pull when a message lands in its queue, not another queue', async () => {
    const f = await fixture();
    await createTopic(f);
    const pending = f.pull.pull(pullRequest({ queueId: 1, maxWaitMs: 10_000 }), fakeCall());
    await expect.poll(() => f.ctx.longPolls.size).toBe(1);
    await f.send.send(sendRequest('t', 0, [msg('elsewhere')]));
    expect(f.ctx.longPolls.size).toBe(1);
    const started = Date.now();
    await f.send.send(sendRequest('t', 1, [msg('here')]));
    const answer = await pending;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect([...decodeRecords(Buffer.from(answer.records!))].map((r) => r.messageId)).toEqual(['here']);
    expect(f.ctx.longPolls.size).toBe(0);
  });

  it('answers a held pull with no new message when its hold ends', async () => {
    const f = await fixture();
    await createTopic(f);
    const started = Date.now();
    const answer = await f.pull.pull(pullRequest({ maxWaitMs: 200 }), fakeCall());
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(answer.status).toBe(conveyor.PullStatus.PULL_NO_NEW_MESSAGE);
    expect(f.ctx.longPolls.size).toBe(0);
  });

  it('holds no longer than the call deadline minus the margin', async () => {
    const f = await fixture();
    await createTopic(f);
    const started = Date.now();
    await f.pull.pull(pullRequest({ maxWaitMs: 10_000 }), fakeCall(Date.now() + LONG_POLL_DEADLINE_MARGIN_MS + 300));
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('forgets a held pull whose call was cancelled', async () => {
    const f = await fixture();
    await createTopic(f);
    const call = fakeCall();
    const pending = f.pull.pull(pullRequest({ maxWaitMs: 10_000 }), call);
    await expect.poll(() => f.ctx.longPolls.size).toBe(1);
    call.emit('cancelled');
    await pending;
    expect(f.ctx.longPolls.size).toBe(0);
  });

  it('answers held pulls at once on shutdown and holds no new ones', async () => {
    const f = await fixture();
    await createTopic(f);
    const pending = f.pull.pull(pullRequest({ maxWaitMs: 10_000 }), fakeCall());
    await expect.poll(() => f.ctx.longPolls.size).toBe(1);
    f.stopping.value = true;
    f.ctx.longPolls.wakeAll();
    expect((await pending).status).toBe(conveyor.PullStatus.PULL_NO_NEW_MESSAGE);
    const started = Date.now();
    await f.pull.pull(pullRequest({ maxWaitMs: 10_000 }), fakeCall());
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('filters by tag expression and reports no matched message past non-matching records', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 0, [msg('a', 'a', { tag: 'red' }), msg('b', 'b', { tag: 'blue' })]));
    const red = await f.pull.pull(pullRequest({ tagExpression: 'red || green' }));
    expect([...decodeRecords(Buffer.from(red.records!))].map((r) => r.messageId)).toEqual(['a']);
    const none = await f.pull.pull(pullRequest({ tagExpression: 'green' }));
    expect(none.status).toBe(conveyor.PullStatus.PULL_NO_MATCHED_MESSAGE);
    expect(none.nextQueueOffset).toBe(2);
  });

  it('refuses a bad group, an unknown topic, a write-only topic, a bad queue and an offset past the end', async () => {
    const f = await fixture();
    await createTopic(f);
    await createTopic(f, 'wo', 1, 2);
    await f.send.send(sendRequest('t', 0, [msg('a')]));
    expect(await codeOf(f.pull.pull(pullRequest({ consumerGroup: 'bad group' })))).toBe('INVALID_NAME');
    expect(await codeOf(f.pull.pull(pullRequest({ topic: 'nope' })))).toBe('TOPIC_NOT_FOUND');
    expect(await codeOf(f.pull.pull(pullRequest({ topic: 'wo' })))).toBe('TOPIC_NOT_READABLE');
    expect(await codeOf(f.pull.pull(pullRequest({ queueId: 2 })))).toBe('QUEUE_NOT_FOUND');
    try {
      await f.pull.pull(pullRequest({ queueOffset: 3 }));
      expect.unreachable();
    } catch (err) {
      expect(isConveyorError(err, ErrorCode.OFFSET_OUT_OF_RANGE)).toBe(true);
      expect((err as { wireFields(): Record<string, string> }).wireFields()).toMatchObject({ minOffset: '0', maxOffset: '1' });
    }
  });
});

describe('offsets and admin', () => {
  it('commits and queries offsets per group, topic and queue', async () => {
    const f = await fixture();
    await createTopic(f);
    expect(await f.offsets.queryOffset(conveyor.QueryOffsetRequest.create({ consumerGroup: 'g', topic: 't', queueId: 0 }))).toEqual({ found: false, queueOffset: 0 });
    await f.offsets.commitOffset(conveyor.CommitOffsetRequest.create({ consumerGroup: 'g', topic: 't', queueId: 0, queueOffset: 7 }));
    expect(await f.offsets.queryOffset(conveyor.QueryOffsetRequest.create({ consumerGroup: 'g', topic: 't', queueId: 0 }))).toEqual({ found: true, queueOffset: 7 });
    expect(await f.offsets.queryOffset(conveyor.QueryOffsetRequest.create({ consumerGroup: 'other', topic: 't', queueId: 0 }))).toEqual({ found: false, queueOffset: 0 });
    expect(await codeOf(f.offsets.commitOffset(conveyor.CommitOffsetRequest.create({ consumerGroup: 'g', topic: 't', queueId: 0, queueOffset: -1 })))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(f.offsets.commitOffset(conveyor.CommitOffsetRequest.create({ consumerGroup: 'g', topic: 'nope', queueId: 0, queueOffset: 1 })))).toBe('TOPIC_NOT_FOUND');
  });

  it('reports group offsets with -1 for queues never committed, and lists groups known only by offsets', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 1, [msg('a'), msg('b')]));
    await f.offsets.commitOffset(conveyor.CommitOffsetRequest.create({ consumerGroup: 'g', topic: 't', queueId: 1, queueOffset: 1 }));
    const offsets = await f.admin.getGroupOffsets(conveyor.GetGroupOffsetsRequest.create({ consumerGroup: 'g', topic: 't' }));
    expect(offsets.offsets).toEqual([
      { topic: 't', queueId: 0, committedOffset: -1, maxQueueOffset: 0 },
      { topic: 't', queueId: 1, committedOffset: 1, maxQueueOffset: 2 },
    ]);
    await f.admin.upsertGroup(conveyor.UpsertGroupRequest.create({ config: { groupName: 'configured', retryMaxTimes: 3 } }));
    const groups = await f.admin.listGroups();
    expect(groups.groups?.map((g) => g.groupName)).toEqual(['configured']);
    expect(groups.groupsWithOffsets).toEqual(['g']);
  });

  it('finds a message by id and by key, and says MESSAGE_NOT_FOUND otherwise', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 0, [msg('id-1', 'body', { keys: ['order-9'] })]));
    await f.store.flush();
    const byId = await f.admin.queryMessage(conveyor.QueryMessageRequest.create({ messageId: 'id-1' }));
    expect([...decodeRecords(Buffer.from(byId.records!))].map((r) => r.messageId)).toEqual(['id-1']);
    await expect.poll(async () => (await f.admin.queryMessage(conveyor.QueryMessageRequest.create({ topic: 't', key: 'order-9' }))).recordCount).toBe(1);
    expect(await codeOf(f.admin.queryMessage(conveyor.QueryMessageRequest.create({ messageId: 'nope' })))).toBe('MESSAGE_NOT_FOUND');
    expect(await codeOf(f.admin.queryMessage(conveyor.QueryMessageRequest.create({})))).toBe('INVALID_ARGUMENT');
  });

  it('reports per-queue stats and broker status', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 0, [msg('a')]));
    const stats = await f.admin.getTopicStats(conveyor.GetTopicStatsRequest.create({ topic: '' }));
    expect(stats.topics).toEqual([{ topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6, ordered: false }]);
    expect(stats.queues).toEqual([
      { topic: 't', queueId: 0, minQueueOffset: 0, maxQueueOffset: 1, lastStoreTimestampMs: f.clock.now },
      { topic: 't', queueId: 1, minQueueOffset: 0, maxQueueOffset: 0, lastStoreTimestampMs: 0 },
    ]);
    expect(f.admin.getBrokerStatus()).toMatchObject({ brokerName: 'broker-a', brokerId: 0, role: 'master', minPhysicalOffset: 0 });
    expect(f.admin.getBrokerStatus().maxPhysicalOffset).toBeGreaterThan(0);
  });

  it('reports the replication lag in broker status', async () => {
    const f = await fixture({ replication: { lag: () => ({ bytes: 4_096, ms: 120 }), sync: undefined, configsChanged: () => undefined } });
    expect(f.admin.getBrokerStatus()).toMatchObject({ replicationLagBytes: 4_096, replicationLagMs: 120 });
  });

  it('refuses config changes on a slave with NOT_MASTER: the slave copies them from its master', async () => {
    const slave = await fixture({ brokerId: 1 });
    expect(await codeOf(slave.admin.upsertTopic(conveyor.UpsertTopicRequest.create({ config: { topicName: 't', readQueueCount: 1, writeQueueCount: 1, perm: 6 } })))).toBe('NOT_MASTER');
    expect(await codeOf(slave.admin.upsertGroup(conveyor.UpsertGroupRequest.create({ config: { groupName: 'g' } })))).toBe('NOT_MASTER');
    await slave.ctx.topics.upsert({ topicName: 't', readQueueCount: 1, writeQueueCount: 1, perm: 6 });
    expect(await codeOf(slave.admin.deleteTopic(conveyor.DeleteTopicRequest.create({ topic: 't' })))).toBe('NOT_MASTER');
    expect(slave.ctx.topics.get('t')).toBeDefined();
    expect(await slave.store.meta.listGroups()).toEqual([]);
  });

  it('deletes a topic with its data and offsets', async () => {
    const f = await fixture();
    await createTopic(f);
    await f.send.send(sendRequest('t', 0, [msg('a')]));
    await f.offsets.commitOffset(conveyor.CommitOffsetRequest.create({ consumerGroup: 'g', topic: 't', queueId: 0, queueOffset: 1 }));
    await f.admin.deleteTopic(conveyor.DeleteTopicRequest.create({ topic: 't' }));
    expect(f.ctx.topics.get('t')).toBeUndefined();
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(0);
    expect(await f.store.meta.listOffsets('g')).toEqual([]);
    expect(await codeOf(f.admin.deleteTopic(conveyor.DeleteTopicRequest.create({ topic: 't' })))).toBe('TOPIC_NOT_FOUND');
  });
});
