import { open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { decodeRecords } from '../../../../common/record.js';
import type { MessageStore } from '../../../../broker/store/index.js';
import { captureLog, messages, test } from './helpers.js';
import { expectProgress, loopBound } from '../../../helpers/loop-bound.js';

async function lastSegment(dataDir: string): Promise<string> {
  const names = (await readdir(path.join(dataDir, 'commitlog'))).sort();
  return path.join(dataDir, 'commitlog', names.at(-1)!);
}

/** What an unclean stop leaves: the abort marker stays. */
async function markUnclean(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, 'abort'), '');
}

/** The log on disk ends where the store says it ends. */
async function expectFilesEndAt(dataDir: string, physicalOffset: number): Promise<void> {
  const file = await lastSegment(dataDir);
  expect(Number(path.basename(file)) + (await stat(file)).size).toBe(physicalOffset);
}

async function readAll(store: MessageStore, topic: string, queueId: number): Promise<string[]> {
  const ids: string[] = [];
  const { minQueueOffset, maxQueueOffset } = store.queueRange(topic, queueId);
  let offset = minQueueOffset;
  const bound = loopBound(`reading ${topic}/${queueId}`, maxQueueOffset - minQueueOffset);
  while (offset < maxQueueOffset) {
    bound.tick();
    const result = await store.read(topic, queueId, offset, { maxCount: 100, maxBytes: 1 << 22 });
    ids.push(...[...decodeRecords(result.records)].map((r) => r.messageId));
    offset = expectProgress(`read of ${topic}/${queueId}`, offset, result.nextQueueOffset);
  }
  return ids;
}

describe('recovery', () => {
  test('a clean start scans nothing', async ({ openStore }) => {
    let store = await openStore();
    await store.append('t', 0, messages('m', 50, 1000));
    await store.close();
    store = await openStore();
    expect(store.recovery).toMatchObject({ clean: true, truncatedBytes: 0, validatedFromPhysicalOffset: undefined, rebuiltRecords: 0 });
    expect(store.recovery.rebuiltFromPhysicalOffset).toBe(store.maxPhysicalOffset);
    expect(await readAll(store, 't', 0)).toHaveLength(50);
  });

  test('cuts a torn last record, logs the bytes cut, and serves everything before it', async ({ openStore, dataDir }) => {
    let store = await openStore();
    const results = await store.append('t', 0, messages('m', 40, 1000));
    await store.close();
    await markUnclean(dataDir);
    const file = await lastSegment(dataDir);
    const { size } = await stat(file);
    await truncate(file, size - 300); // the last record is half-written
    const { logger, lines } = await captureLog();
    store = await openStore({ log: logger });
    expect(store.recovery.clean).toBe(false);
    expect(store.recovery.truncatedBytes).toBe(results.at(-1)!.size - 300);
    const cut = lines.find((l) => l.msg === 'commit log tail truncated');
    expect(cut?.truncatedBytes).toBe(results.at(-1)!.size - 300);
    expect(store.maxPhysicalOffset).toBe(results.at(-1)!.physicalOffset);
    await expectFilesEndAt(dataDir, results.at(-1)!.physicalOffset);
    expect(store.queueRange('t', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 39 });
    expect(await readAll(store, 't', 0)).toEqual(messages('m', 39).map((m) => m.messageId));
    // The next append takes the cut record's place.
    const [result] = await store.append('t', 0, messages('after', 1, 1000));
    expect(result!.queueOffset).toBe(39);
    await store.close();
    store = await openStore();
    expect((await readAll(store, 't', 0)).at(-1)).toBe('after-0');
  });

  test('cuts the last record when a byte of it is flipped', async ({ openStore, dataDir }) => {
    let store = await openStore();
    const results = await store.append('t', 0, messages('m', 20, 1000));
    await store.close();
    await markUnclean(dataDir);
    const last = results.at(-1)!;
    const file = await lastSegment(dataDir);
    const handle = await open(file, 'r+');
    const position = last.physicalOffset % (64 * 1024) + 500;
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, position);
    byte[0]! ^= 0x40;
    await handle.write(byte, 0, 1, position);
    await handle.close();
    store = await openStore();
    expect(store.recovery.truncatedBytes).toBe(last.size);
    expect(store.maxPhysicalOffset).toBe(last.physicalOffset);
    await expectFilesEndAt(dataDir, last.physicalOffset);
    expect(await readAll(store, 't', 0)).toEqual(messages('m', 19).map((m) => m.messageId));
    expect(await store.lookupById('m-19')).toBeNull();
  });

  test('rebuilds a deleted consume queue and a truncated one from the log', async ({ openStore, dataDir }) => {
    let store = await openStore();
    for (let round = 0; round < 5; round++) {
      for (let queueId = 0; queueId < 3; queueId++) await store.append('t', queueId, messages(`q${queueId}-r${round}`, 60, 100));
    }
    const expected = [];
    for (let queueId = 0; queueId < 3; queueId++) expected.push(await readAll(store, 't', queueId));
    await store.close();
    await rm(path.join(dataDir, 'consumequeue', 't', '0'), { recursive: true });
    const queue1 = path.join(dataDir, 'consumequeue', 't', '1');
    const files = (await readdir(queue1)).sort();
    await rm(path.join(queue1, files.at(-1)!));
    await truncate(path.join(queue1, files.at(-2)!), 20 * 37 + 7); // 37 entries and part of one
    store = await openStore();
    expect(store.recovery.clean).toBe(true);
    expect(store.recovery.rebuiltRecords).toBeGreaterThan(0);
    for (let queueId = 0; queueId < 3; queueId++) {
      expect(store.queueRange('t', queueId)).toEqual({ minQueueOffset: 0, maxQueueOffset: 300 });
      expect(await readAll(store, 't', queueId)).toEqual(expected[queueId]);
    }
    const [next] = await store.append('t', 0, messages('next', 1));
    expect(next!.queueOffset).toBe(300);
  });

  test('without a checkpoint, an unclean start rebuilds everything from the first segment', async ({ openStore, dataDir }) => {
    let store = await openStore();
    await store.append('t', 0, [...messages('a', 30, 800)]);
    await store.append('u', 2, [...messages('b', 30, 800)]);
    await store.close();
    await markUnclean(dataDir);
    await rm(path.join(dataDir, 'checkpoint'));
    await rm(path.join(dataDir, 'consumequeue'), { recursive: true });
    store = await openStore();
    expect(store.recovery).toMatchObject({ clean: false, validatedFromPhysicalOffset: 0, rebuiltFromPhysicalOffset: 0, rebuiltRecords: 60, truncatedBytes: 0 });
    expect(await readAll(store, 't', 0)).toEqual(messages('a', 30).map((m) => m.messageId));
    expect(await readAll(store, 'u', 2)).toEqual(messages('b', 30).map((m) => m.messageId));
  });

  test('drops garbage after the last record and keeps a segment ending in padding', async ({ openStore, dataDir }) => {
    let store = await openStore();
    await store.append('t', 0, messages('m', 100, 1000)); // several rolls
    const max = store.maxPhysicalOffset;
    await store.close();
    await markUnclean(dataDir);
    const file = await lastSegment(dataDir);
    const handle = await open(file, 'a');
    await handle.write(Buffer.alloc(4096, 0));
    await handle.close();
    store = await openStore();
    expect(store.recovery.truncatedBytes).toBe(4096);
    expect(store.maxPhysicalOffset).toBe(max);
    await expectFilesEndAt(dataDir, max);
    expect(await readAll(store, 't', 0)).toHaveLength(100);
  });
});
