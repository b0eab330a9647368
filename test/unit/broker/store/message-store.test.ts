import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { ErrorCode } from '../../../../common/errors.js';
import { MESSAGE_BODY_BYTES_MAX } from '../../../../common/limits.js';
import { decodeRecord, decodeRecords, measureBatch } from '../../../../common/record.js';
import { message, messages, test } from './helpers.js';
import { rejectionOf } from '../../../helpers/errors.js';
import { expectProgress, loopBound } from '../../../helpers/loop-bound.js';

describe('append and read', () => {
  test('round-trips many topics and queues at once across segment rolls', async ({ openStore, dataDir }) => {
    const store = await openStore();
    const topics = ['orders', 'payments', 'audit'];
    const expected = new Map<string, string[]>();
    const appends: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      for (const topic of topics) {
        for (let queueId = 0; queueId < 4; queueId++) {
          const batch = messages(`${topic}-${queueId}-${round}`, 5, 300 + round * 10);
          const key = `${topic}/${queueId}`;
          expected.set(key, [...(expected.get(key) ?? []), ...batch.map((m) => m.messageId)]);
          appends.push(store.append(topic, queueId, batch));
        }
      }
    }
    await Promise.all(appends);
    expect((await readdir(path.join(dataDir, 'commitlog'))).length).toBeGreaterThan(3);
    for (const topic of topics) {
      for (let queueId = 0; queueId < 4; queueId++) {
        expect(store.queueRange(topic, queueId)).toEqual({ minQueueOffset: 0, maxQueueOffset: 100 });
        const ids: string[] = [];
        let offset = 0;
        const bound = loopBound(`reading ${topic}/${queueId}`, 100);
        while (offset < 100) {
          bound.tick();
          const result = await store.read(topic, queueId, offset, { maxCount: 32, maxBytes: 1 << 20 });
          expect(result.status).toBe('found');
          const records = [...decodeRecords(result.records)];
          expect(records).toHaveLength(result.count);
          records.forEach((r, i) => {
            expect(r).toMatchObject({ topic, queueId, queueOffset: offset + i });
          });
          ids.push(...records.map((r) => r.messageId));
          offset = expectProgress(`read of ${topic}/${queueId}`, offset, result.nextQueueOffset);
        }
        expect(ids).toEqual(expected.get(`${topic}/${queueId}`));
      }
    }
  });

  test('takes sizes the caller measured, stores the same bytes, and refuses sizes that do not fit the messages', async ({ openStore }) => {
    const store = await openStore();
    const batch = [message('a', { keys: ['k'], tag: 'x' }), message('bb')];
    const sizes = measureBatch('t', batch);
    const results = await store.append('t', 0, batch, sizes);
    expect(results.map((r) => [r.messageId, r.topic, r.queueOffset, r.size])).toEqual([['a', 't', 0, sizes[0]], ['bb', 't', 1, sizes[1]]]);
    expect(decodeRecord(await store.readCommitLog(results[1]!.physicalOffset, results[1]!.size))).toMatchObject({ messageId: 'bb', queueOffset: 1 });
    await expect(store.append('t', 0, batch, sizes.slice(0, 1))).rejects.toThrow(/assertion failed/);
    await expect(store.append('t', 0, batch, [sizes[0]!, sizes[1]! + 1])).rejects.toThrow(/assertion failed/);
    expect(store.queueRange('t', 0).maxQueueOffset).toBe(2);
  });

  test('returns append results that point at the stored records', async ({ openStore }) => {
    let now = 5_000;
    const store = await openStore({ clock: () => now });
    const results = await store.append('t', 1, [message('a', { keys: ['k'], tag: 'x', properties: { p: 'v' } }), message('b')]);
    expect(results.map((r) => [r.messageId, r.queueId, r.queueOffset, r.storeTimestampMs])).toEqual([['a', 1, 0, 5000], ['b', 1, 1, 5000]]);
    expect(results[1]!.physicalOffset).toBe(results[0]!.physicalOffset + results[0]!.size);
    const raw = await store.readCommitLog(results[0]!.physicalOffset, results[0]!.size);
    expect(decodeRecord(raw)).toMatchObject({ messageId: 'a', keys: ['k'], tag: 'x', properties: { p: 'v' }, storeTimestampMs: 5000 });
    now = 4_000; // a clock going back does not make store times go back
    expect((await store.append('t', 1, [message('c')]))[0]!.storeTimestampMs).toBe(5000);
  });

  test('answers no-new-message at the end and OFFSET_OUT_OF_RANGE outside the range, with the range', async ({ openStore }) => {
    const store = await openStore();
    await store.append('t', 0, messages('m', 3));
    const end = await store.read('t', 0, 3, { maxCount: 10, maxBytes: 1 << 20 });
    expect(end).toMatchObject({ status: 'no-new-message', count: 0, nextQueueOffset: 3, minQueueOffset: 0, maxQueueOffset: 3 });
    const error = await rejectionOf(store.read('t', 0, 4, { maxCount: 10, maxBytes: 1 << 20 }));
    expect(error.code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(error.fields).toMatchObject({ minOffset: 0, maxOffset: 3 });
    expect((await store.read('never', 0, 0, { maxCount: 1, maxBytes: 1 })).status).toBe('no-new-message');
    expect((await rejectionOf(store.read('never', 0, 1, { maxCount: 1, maxBytes: 1 }))).code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(store.queueRange('never', 7)).toEqual({ minQueueOffset: 0, maxQueueOffset: 0 });
  });

  test('honours maxCount and maxBytes but always returns at least one record', async ({ openStore }) => {
    const store = await openStore();
    const results = await store.append('t', 0, messages('m', 10, 1000));
    const size = results[0]!.size;
    expect((await store.read('t', 0, 0, { maxCount: 3, maxBytes: 1 << 20 })).count).toBe(3);
    const byBytes = await store.read('t', 0, 2, { maxCount: 100, maxBytes: size * 2 + 10 });
    expect(byBytes).toMatchObject({ count: 2, nextQueueOffset: 4 });
    expect(byBytes.records.length).toBe(size * 2);
    expect((await store.read('t', 0, 0, { maxCount: 100, maxBytes: 1 })).count).toBe(1);
  });

  test('reads a queue whose records lie in runs spread over the log, in order, after the headroom asked for', async ({ openStore }) => {
    const store = await openStore({ segmentBytes: 1 << 20 });
    const body = Buffer.alloc(1_000, 0x61);
    // Runs of 20 records (~21 KB) per queue, alternating: queue 0's runs are separate reads.
    for (let run = 0; run < 6; run++) {
      await store.append('t', run % 2, Array.from({ length: 20 }, (_, i) => message(`q${run % 2}-${Math.floor(run / 2) * 20 + i}`, { body, tag: i % 3 === 0 ? 'x' : 'y' })));
    }
    const plain = await store.read('t', 0, 0, { maxCount: 100, maxBytes: 1 << 20 });
    expect([...decodeRecords(plain.records)].map((r) => r.messageId)).toEqual(Array.from({ length: 60 }, (_, i) => `q0-${i}`));
    expect(plain.frame).toBeUndefined();
    const framed = await store.read('t', 0, 0, { maxCount: 100, maxBytes: 1 << 20, headroomBytes: 64 });
    expect(framed.frame!.length).toBe(64 + plain.records.length);
    expect(framed.records.equals(plain.records)).toBe(true);
    expect(framed.frame!.subarray(64).equals(plain.records)).toBe(true);
    const tagged = await store.read('t', 0, 0, { maxCount: 100, maxBytes: 1 << 20, headroomBytes: 64, tags: new Set(['x']) });
    expect([...decodeRecords(tagged.records)].map((r) => r.messageId)).toEqual(Array.from({ length: 60 }, (_, i) => `q0-${i}`).filter((_, i) => (i % 20) % 3 === 0));
    expect(tagged.frame!.length).toBe(64 + tagged.records.length);
  });

  test('filters by tag and reports no-matched-message past records that do not match', async ({ openStore }) => {
    const store = await openStore();
    const tags = ['red', 'green', 'blue', 'green', 'red', 'red'];
    await store.append('t', 0, tags.map((tag, i) => message(`m${i}`, { tag })));
    const reds = await store.read('t', 0, 0, { maxCount: 10, maxBytes: 1 << 20, tags: new Set(['red']) });
    expect([...decodeRecords(reds.records)].map((r) => r.messageId)).toEqual(['m0', 'm4', 'm5']);
    expect(reds.nextQueueOffset).toBe(6);
    const two = await store.read('t', 0, 0, { maxCount: 2, maxBytes: 1 << 20, tags: new Set(['green', 'blue']) });
    expect([...decodeRecords(two.records)].map((r) => r.messageId)).toEqual(['m1', 'm2']);
    expect(two.nextQueueOffset).toBe(3);
    const none = await store.read('t', 0, 0, { maxCount: 10, maxBytes: 1 << 20, tags: new Set(['purple']) });
    expect(none).toMatchObject({ status: 'no-matched-message', count: 0, nextQueueOffset: 6 });
  });

  test('finds offsets by store time and reports the last store time', async ({ openStore }) => {
    let now = 1_000;
    const store = await openStore({ clock: () => now });
    for (let i = 0; i < 10; i++) {
      now = 1_000 + i * 100;
      await store.append('t', 0, [message(`m${i}`)]);
    }
    expect(await store.searchOffset('t', 0, 0)).toBe(0);
    expect(await store.searchOffset('t', 0, 1_350)).toBe(4);
    expect(await store.searchOffset('t', 0, 1_400)).toBe(4);
    expect(await store.searchOffset('t', 0, 99_999)).toBe(10);
    expect(await store.lastStoreTimestamp('t', 0)).toBe(1_900);
    expect(await store.lastStoreTimestamp('t', 9)).toBe(0);
  });

  test('tells listeners when new entries are readable, once per queue per write', async ({ openStore }) => {
    const store = await openStore();
    const seen: [string, number, number][] = [];
    const unsubscribe = store.onDispatch((topic, queueId, max) => seen.push([topic, queueId, max]));
    await Promise.all([store.append('t', 0, messages('a', 2)), store.append('t', 0, messages('b', 3)), store.append('u', 1, messages('c', 1))]);
    await Promise.resolve();
    // Appends made in the same turn share one write and one notification round.
    expect(seen).toEqual([['t', 0, 5], ['u', 1, 1]]);
    unsubscribe();
    await store.append('t', 0, messages('d', 1));
    await Promise.resolve();
    expect(seen).toHaveLength(2);
  });

  test('deletes a topic: its queues are gone and stay gone after reopening', async ({ openStore }) => {
    let store = await openStore();
    await store.append('gone', 0, messages('g', 5));
    await store.append('kept', 0, messages('k', 5));
    await store.deleteTopic('gone');
    expect(store.queueRange('gone', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 0 });
    await store.append('gone', 0, messages('new', 2));
    expect(store.queueRange('gone', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 2 });
    await store.close();
    store = await openStore();
    expect(store.queueRange('gone', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 2 });
    expect(store.queueRange('kept', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 5 });
  });
});

describe('limits', () => {
  test('rejects an oversize record or batch and leaves the log unchanged', async ({ openStore }) => {
    const store = await openStore({ segmentBytes: 1 << 20 });
    await store.append('t', 0, messages('ok', 2));
    const before = { max: store.maxPhysicalOffset, range: store.queueRange('t', 0) };
    const tooBig = await rejectionOf(store.append('t', 0, [message('big', { body: Buffer.alloc(MESSAGE_BODY_BYTES_MAX + 1) })]));
    expect(tooBig.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    const overSegment = await rejectionOf(store.append('t', 0, [message('seg', { body: Buffer.alloc(1 << 20) })]));
    expect(overSegment.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    const batch = await rejectionOf(store.append('t', 0, messages('many', 1025, 1)));
    expect(batch.code).toBe(ErrorCode.BATCH_TOO_LARGE);
    const mixed = await rejectionOf(store.append('t', 0, [message('fine'), message('bad', { properties: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) })]));
    expect(mixed.code).toBe(ErrorCode.TOO_MANY_PROPERTIES);
    const badName = await rejectionOf(store.append('bad/topic', 0, messages('x', 1)));
    expect(badName.code).toBe(ErrorCode.INVALID_NAME);
    expect(store.maxPhysicalOffset).toBe(before.max);
    expect(store.queueRange('t', 0)).toEqual(before.range);
    expect((await store.append('t', 0, messages('after', 1)))[0]!.queueOffset).toBe(2);
  });

  test('refuses appends with DISK_FULL past the hard threshold and writes nothing', async ({ openStore }) => {
    let usedPercent = 50;
    const store = await openStore({ diskUsage: async () => ({ usedPercent }) });
    await store.append('t', 0, messages('a', 1));
    const before = store.maxPhysicalOffset;
    usedPercent = 95;
    await store.runRetention();
    const error = await rejectionOf(store.append('t', 0, messages('b', 1)));
    expect(error.code).toBe(ErrorCode.DISK_FULL);
    expect(error.fields).toMatchObject({ usedPercent: 95, hardThresholdPercent: 90 });
    expect(store.maxPhysicalOffset).toBe(before);
    usedPercent = 50;
    await store.runRetention();
    expect((await store.append('t', 0, messages('c', 1)))[0]!.queueOffset).toBe(1);
  });

  test('rejects invalid options with CONFIG_INVALID naming each setting', async ({ openStore }) => {
    const error = await rejectionOf(openStore({ segmentBytes: 10, diskSoftThresholdPercent: 95, diskHardThresholdPercent: 90 }));
    expect(error.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(error.message).toContain('segmentBytes');
    expect(error.message).toContain('diskSoftThresholdPercent');
  });

  test('refuses to reopen a data directory with another segment size', async ({ openStore }) => {
    const store = await openStore({ segmentBytes: 64 * 1024 });
    await store.close();
    expect((await rejectionOf(openStore({ segmentBytes: 128 * 1024 }))).code).toBe(ErrorCode.CONFIG_INVALID);
  });
});

describe('lookups', () => {
  test('find records by message id and by key, before and after the index is written and after reopening', async ({ openStore }) => {
    let store = await openStore();
    await store.append('orders', 0, [message('id-1', { keys: ['customer-7', 'order-1'] }), message('id-2', { keys: ['customer-7'] })]);
    await store.append('orders', 1, [message('id-3', { keys: ['customer-8'] })]);
    await store.append('other', 0, [message('id-4', { keys: ['customer-7'] })]);
    // Right after the append the index may still be pending: the overlay answers.
    expect(decodeRecord((await store.lookupById('id-2'))!).messageId).toBe('id-2');
    const check = async (): Promise<void> => {
      expect(decodeRecord((await store.lookupById('id-3'))!)).toMatchObject({ messageId: 'id-3', topic: 'orders', queueId: 1 });
      expect(await store.lookupById('nope')).toBeNull();
      const byKey = (await store.lookupByKey('orders', 'customer-7', 10)).map((r) => decodeRecord(r).messageId);
      expect(byKey).toEqual(['id-2', 'id-1']);
      expect((await store.lookupByKey('orders', 'customer-7', 1)).map((r) => decodeRecord(r).messageId)).toEqual(['id-2']);
      expect((await store.lookupByKey('other', 'customer-7', 10)).map((r) => decodeRecord(r).messageId)).toEqual(['id-4']);
      expect(await store.lookupByKey('orders', 'missing', 10)).toEqual([]);
    };
    await check();
    await store.flush();
    await store.close();
    store = await openStore();
    await check();
  });
});
