// The de-duplication window rebuilt from the log tail at start (broker/dedup/window-rebuild.ts),
// through the send service over a real store in a temp directory with an injected clock: after a
// restart, repeats are answered from memory and fresh ids stored without a store lookup; records
// older than the window are not loaded; the read and the window stay bounded, and what did not fit
// is still confirmed against the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DedupWindow } from '../../../../broker/dedup/dedup-window.js';
import { rebuildDedupWindow, type RebuildReport } from '../../../../broker/dedup/window-rebuild.js';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { AdminService } from '../../../../broker/services/admin.js';
import { SendService } from '../../../../broker/services/send.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { silentLogger } from '../../../../common/logging.js';
import { conveyor } from '../../../../proto/index.js';
import { generatorId } from '../../../helpers/generator-id.js';
import { testServiceContext } from '../services/service-context.js';

const WINDOW_MS = 60_000;
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fixture {
  send: SendService;
  store: MessageStore;
  dedup: DedupWindow;
  report: RebuildReport;
  clock: { now: number };
  dir: string;
  close: () => Promise<void>;
  lookups: () => number;
}

interface RebuildKnobs {
  bytesMax?: number;
  entriesMax?: number;
  /** The log read stops at its start, as at a record that does not check. */
  scanStops?: boolean;
}

async function fixture(options: { dir?: string; clock?: { now: number } } & RebuildKnobs = {}): Promise<Fixture> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'conveyor-dedup-rebuild-'));
  if (options.dir === undefined) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const clock = options.clock ?? { now: 1_000_000 };
  const store = await MessageStore.open({ dataDir: dir, segmentBytes: 64 * 1024, clock: () => clock.now, backgroundTimers: false });
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await store.close();
    closed = true;
  };
  cleanups.push(close);
  const lookupSpy = vi.spyOn(store, 'lookupById');
  if (options.scanStops === true) {
    const scan = store.scanRecords.bind(store);
    vi.spyOn(store, 'scanRecords').mockImplementation(async (from, chunkBytes, each) => {
      await scan(from, chunkBytes, each);
      return from;
    });
  }
  const topics = new TopicManager({ meta: store.meta, autoCreateTopics: false, defaultQueueCount: 2, onChange: () => undefined, log: silentLogger() });
  await topics.load();
  const queues = [0, 1].map((queueId) => ({ topic: 't', queueId }));
  const { window: dedup, report } = await rebuildDedupWindow(store, queues, { windowMs: WINDOW_MS, nowMs: clock.now, bytesMax: options.bytesMax, entriesMax: options.entriesMax });
  const ctx = testServiceContext({ store, topics, dedup, longPolls: new LongPollTable(), clock: () => clock.now });
  await new AdminService(ctx).upsertTopic(conveyor.UpsertTopicRequest.create({ config: { topicName: 't', readQueueCount: 2, writeQueueCount: 2, perm: 6 } }));
  return { send: new SendService(ctx), store, dedup, report, clock, dir, close, lookups: () => lookupSpy.mock.calls.length };
}

function request(ids: readonly string[], queueId = 0): conveyor.SendRequest {
  const messages = ids.map((messageId) => conveyor.MessageInput.create({ messageId, body: Buffer.from(`body of ${messageId}`), bornTimestampMs: 1 }));
  return conveyor.SendRequest.create({ topic: 't', queueId, producerGroup: 'pg', messages });
}

function runIds(instance: number, first: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => generatorId(instance, first + i));
}

async function restart(f: Fixture, advanceMs: number, options: RebuildKnobs = {}): Promise<Fixture> {
  await f.close();
  f.clock.now += advanceMs;
  return fixture({ dir: f.dir, clock: f.clock, ...options });
}

describe('de-duplication window rebuilt from the log tail', () => {
  it('answers a repeat after a restart with its original result, and stores fresh ids, without a store lookup', async () => {
    const first = await fixture();
    const original = await first.send.send(request(['order-1']));
    await first.send.send(request(['order-2', ...runIds(7, 0, 16)], 1));
    const reopened = await restart(first, 1_000);
    expect(reopened.report.records).toBe(18);
    expect(reopened.report.notLoadedNewestMs).toBeNull();
    const again = await reopened.send.send(request(['order-1'], 1));
    const o = original.results![0]!;
    expect(again.results?.[0]).toMatchObject({ messageId: 'order-1', duplicate: true, queueId: 0, queueOffset: o.queueOffset, physicalOffset: o.physicalOffset, storeTimestampMs: o.storeTimestampMs });
    const fresh = await reopened.send.send(request(['order-3', ...runIds(8, 0, 16)]));
    expect(fresh.results?.every((r) => r.duplicate !== true)).toBe(true);
    expect(reopened.lookups()).toBe(0);
    // A run's repeat is a possible duplicate that the store's index confirms (id-runs.ts), as before a restart.
    const runAgain = await reopened.send.send(request(runIds(7, 4, 8)));
    expect(runAgain.results?.every((r) => r.duplicate === true)).toBe(true);
    expect(reopened.store.queueRange('t', 0).maxQueueOffset).toBe(1 + 17);
  });

  it('does not load records older than the window', async () => {
    const first = await fixture();
    await first.send.send(request(['old-1']));
    first.clock.now += WINDOW_MS - 5_000;
    await first.send.send(request(['new-1']));
    const reopened = await restart(first, 10_000);
    expect(reopened.report.records).toBe(1);
    expect(reopened.dedup.size).toBe(1);
    const again = await reopened.send.send(request(['old-1', 'new-1']));
    expect(again.results?.map((r) => r.duplicate === true)).toEqual([false, true]);
    expect(reopened.lookups()).toBe(0);
  });

  it('bounds the read to the newest bytes and confirms the rest against the store', async () => {
    const first = await fixture();
    const offsets: number[] = [];
    for (let i = 0; i < 50; i++) offsets.push(Number((await first.send.send(request([`id-${i}`]))).results![0]!.physicalOffset));
    const bytesMax = first.store.maxPhysicalOffset - offsets[40]!;
    const reopened = await restart(first, 1_000, { bytesMax });
    expect(reopened.report.records).toBe(10);
    expect(reopened.report.fromPhysicalOffset).toBe(offsets[40]);
    expect(reopened.report.notLoadedNewestMs).not.toBeNull();
    const loaded = await reopened.send.send(request(['id-45']));
    expect([loaded.results?.[0]?.duplicate, reopened.lookups()]).toEqual([true, 0]);
    const notLoaded = await reopened.send.send(request(['id-3']));
    expect(notLoaded.results?.[0]).toMatchObject({ duplicate: true, physicalOffset: offsets[3] });
    expect(reopened.lookups()).toBe(1);
  });

  it('keeps the rebuilt window within its size bound; an evicted id is still a duplicate', async () => {
    const first = await fixture();
    for (let i = 0; i < 20; i++) await first.send.send(request([`id-${i}`]));
    const reopened = await restart(first, 1_000, { entriesMax: 5 });
    expect(reopened.report.records).toBe(20);
    expect(reopened.dedup.size).toBeLessThanOrEqual(5);
    const evicted = await reopened.send.send(request(['id-0']));
    expect(evicted.results?.[0]?.duplicate).toBe(true);
    expect(reopened.store.queueRange('t', 0).maxQueueOffset).toBe(20);
  });

  it('falls back to store lookups for the whole window when the log read stops early', async () => {
    const first = await fixture();
    await first.send.send(request(['a', 'b']));
    const reopened = await restart(first, 1_000, { scanStops: true });
    expect([reopened.report.records, reopened.dedup.size]).toEqual([0, 0]);
    expect(reopened.report.notLoadedNewestMs).not.toBeNull();
    const again = await reopened.send.send(request(['a']));
    expect(again.results?.[0]?.duplicate).toBe(true);
    expect(reopened.lookups()).toBe(1);
  });
});
