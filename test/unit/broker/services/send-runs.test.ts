// De-duplication of generator-format ids kept as runs (broker/dedup/id-runs.ts), through the send
// service against a real store in a temp directory with an injected clock: a repeat inside a run
// is answered with the original result found in the store, fresh ids next to a run are stored,
// and runs expire, wrap, forget deleted topics and survive a restart through the store index.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DedupWindow } from '../../../../broker/dedup/dedup-window.js';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { AdminService } from '../../../../broker/services/admin.js';
import { SendService } from '../../../../broker/services/send.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { silentLogger } from '../../../../common/logging.js';
import { conveyor } from '../../../../proto/index.js';
import { generatorId } from '../../../helpers/generator-id.js';
import { testServiceContext } from './service-context.js';

const WINDOW_MS = 60_000;
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fixture {
  send: SendService;
  admin: AdminService;
  store: MessageStore;
  dedup: DedupWindow;
  clock: { now: number };
  dir: string;
  close: () => Promise<void>;
}

async function fixture(options: { dir?: string; clock?: { now: number } } = {}): Promise<Fixture> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'conveyor-send-runs-'));
  if (options.dir === undefined) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const clock = options.clock ?? { now: 1_000_000 };
  const store = await MessageStore.open({ dataDir: dir, segmentBytes: 4 * 1024 * 1024, clock: () => clock.now, backgroundTimers: false });
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await store.close();
    closed = true;
  };
  cleanups.push(close);
  const topics = new TopicManager({ meta: store.meta, autoCreateTopics: false, defaultQueueCount: 4, onChange: () => undefined, log: silentLogger() });
  await topics.load();
  const dedup = new DedupWindow({ windowMs: WINDOW_MS, startedAtMs: clock.now, newestStoredBeforeStartMs: store.maxPhysicalOffset === 0 ? null : undefined });
  const longPolls = new LongPollTable();
  const ctx = testServiceContext({ store, topics, dedup, longPolls, clock: () => clock.now });
  const admin = new AdminService(ctx);
  await admin.upsertTopic(conveyor.UpsertTopicRequest.create({ config: { topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6 } }));
  return { send: new SendService(ctx), admin, store, dedup, clock, dir, close };
}

/** A send of generator ids of `instance` with counters first..first+count-1 (optionally another time part). */
function runRequest(queueId: number, instance: number, first: number, count: number, timeMs?: number): conveyor.SendRequest {
  const messages = Array.from({ length: count }, (_, i) => conveyor.MessageInput.create({ messageId: generatorId(instance, (first + i) % 0x1_0000_0000, timeMs), body: Buffer.from(`m${first + i}`), bornTimestampMs: 1 }));
  return conveyor.SendRequest.create({ topic: 't', queueId, producerGroup: 'pg', messages });
}

function summary(response: conveyor.ISendResponse): Array<[string, number, boolean]> {
  return (response.results ?? []).map((r) => [r.messageId ?? '', Number(r.queueOffset), r.duplicate ?? false]);
}

describe('send with ids kept as runs', () => {
  it('remembers a fresh batch as a run and answers its repeat with the original results from the store', async () => {
    const f = await fixture();
    const original = await f.send.send(runRequest(0, 7, 1_000, 64));
    expect(f.dedup.runCount).toBe(1);
    expect(f.dedup.size).toBe(0); // no id one by one
    const again = await f.send.send(runRequest(1, 7, 1_000, 64));
    expect(again.results).toHaveLength(64);
    again.results!.forEach((r, i) => {
      const o = original.results![i]!;
      expect([r.messageId, r.duplicate, r.queueId, r.queueOffset, r.physicalOffset, r.storeTimestampMs]).toEqual([o.messageId, true, 0, o.queueOffset, o.physicalOffset, o.storeTimestampMs]);
    });
    expect(f.store.queueRange('t', 1).maxQueueOffset).toBe(0);
  });

  it('finds one id retried alone from the middle of a run, and a repeated run inside one batch', async () => {
    const f = await fixture();
    const original = await f.send.send(runRequest(0, 7, 0, 32));
    const one = await f.send.send(runRequest(1, 7, 17, 1));
    expect(one.results?.[0]).toMatchObject({ duplicate: true, queueId: 0, queueOffset: 17, physicalOffset: original.results?.[17]?.physicalOffset });
    const twice = runRequest(0, 9, 0, 16);
    twice.messages.push(...runRequest(0, 9, 0, 16).messages);
    const response = await f.send.send(twice);
    expect(summary(response).map(([, offset, duplicate]) => [offset, duplicate])).toEqual([...Array.from({ length: 16 }, (_, i) => [32 + i, false]), ...Array.from({ length: 16 }, (_, i) => [32 + i, true])]);
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(48);
  });

  it('stores fresh ids next to a run, and ids that share a run\'s counters but not its time part', async () => {
    const f = await fixture();
    await f.send.send(runRequest(0, 7, 100, 32));
    const next = await f.send.send(runRequest(0, 7, 132, 32));
    const before = await f.send.send(runRequest(0, 7, 68, 32));
    const otherTime = await f.send.send(runRequest(0, 7, 100, 32, 0x18c_0000_0001));
    for (const response of [next, before, otherTime]) expect(summary(response).every(([, , duplicate]) => !duplicate)).toBe(true);
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(128);
  });

  it('finds repeats across a counter that wrapped', async () => {
    const f = await fixture();
    await f.send.send(runRequest(0, 3, 0xffff_fff0, 32));
    expect(f.dedup.runCount).toBe(2);
    const again = await f.send.send(runRequest(1, 3, 0xffff_fff8, 16));
    expect(summary(again).every(([, , duplicate]) => duplicate)).toBe(true);
    expect(f.store.queueRange('t', 1).maxQueueOffset).toBe(0);
  });

  it('stores a run again once it left the window', async () => {
    const f = await fixture();
    await f.send.send(runRequest(0, 7, 0, 16));
    f.clock.now += WINDOW_MS - 1;
    expect(summary(await f.send.send(runRequest(0, 7, 0, 16))).every(([, , duplicate]) => duplicate)).toBe(true);
    f.clock.now += 2;
    expect(summary(await f.send.send(runRequest(0, 7, 0, 16))).every(([, , duplicate]) => !duplicate)).toBe(true);
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(32);
  });

  it('stores an overlapping run once when two sends of it run concurrently', async () => {
    const f = await fixture();
    const [first, second] = await Promise.all([f.send.send(runRequest(0, 7, 0, 32)), f.send.send(runRequest(1, 7, 16, 32))]);
    expect(summary(first).every(([, , duplicate]) => !duplicate)).toBe(true);
    expect(summary(second).map(([, offset, duplicate]) => [offset, duplicate])).toEqual([...Array.from({ length: 16 }, (_, i) => [16 + i, true]), ...Array.from({ length: 16 }, (_, i) => [i, false])]);
    expect(second.results?.[0]?.queueId).toBe(0);
    expect(f.store.queueRange('t', 1).maxQueueOffset).toBe(16);
  });

  it('forgets the runs of a deleted topic: a re-created topic stores the same ids afresh', async () => {
    const f = await fixture();
    await f.send.send(runRequest(0, 7, 0, 16));
    await f.admin.deleteTopic(conveyor.DeleteTopicRequest.create({ topic: 't' }));
    await f.admin.upsertTopic(conveyor.UpsertTopicRequest.create({ config: { topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6 } }));
    expect(f.dedup.runCount).toBe(0);
    expect(summary(await f.send.send(runRequest(0, 7, 0, 16))).every(([, , duplicate]) => !duplicate)).toBe(true);
  });

  it('finds a run stored before a restart through the store index, within the window only', async () => {
    const first = await fixture();
    const original = await first.send.send(runRequest(0, 7, 0, 16));
    await first.close();
    first.clock.now += 1_000;
    const reopened = await fixture({ dir: first.dir, clock: first.clock });
    const again = await reopened.send.send(runRequest(1, 7, 8, 16));
    expect(summary(again).map(([, offset, duplicate]) => [offset, duplicate])).toEqual([...Array.from({ length: 8 }, (_, i) => [8 + i, true]), ...Array.from({ length: 8 }, (_, i) => [i, false])]);
    expect(again.results?.[0]?.physicalOffset).toEqual(original.results?.[8]?.physicalOffset);
    reopened.clock.now += WINDOW_MS;
    expect(summary(await reopened.send.send(runRequest(0, 7, 0, 4))).every(([, , duplicate]) => !duplicate)).toBe(true);
  });

  it('keeps user ids one by one next to runs, a short stretch as lone ids joined into a run, and finds repeats of each kind', async () => {
    const f = await fixture();
    const mixed = runRequest(0, 7, 0, 16);
    mixed.messages.push(conveyor.MessageInput.create({ messageId: 'order-1', body: Buffer.from('x'), bornTimestampMs: 1 }), ...runRequest(0, 8, 0, 2).messages);
    await f.send.send(mixed);
    // The 16 ids of instance 7 are a run of their batch; the 2 of instance 8 are too few for one and
    // are remembered as lone ids: the first takes an entry, the second joins it into a run (putSingle).
    expect([f.dedup.runCount, f.dedup.size]).toEqual([2, 2]);
    const again = await f.send.send(mixed);
    expect(summary(again).every(([, , duplicate]) => duplicate)).toBe(true);
    expect(f.store.queueRange('t', 0).maxQueueOffset).toBe(19);
  });
});
