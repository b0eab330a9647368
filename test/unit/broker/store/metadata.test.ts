import { readdirSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { META_WRITE_BUFFER_BYTES, MetadataStore } from '../../../../broker/store/metadata.js';
import { test } from './helpers.js';

describe('metadata in level', () => {
  test('keeps topics, groups, offsets and broker values across reopening', async ({ openStore }) => {
    let store = await openStore();
    await store.meta.putTopic({ topicName: 'orders', readQueueCount: 8, writeQueueCount: 8, perm: 6, ordered: false });
    await store.meta.putTopic({ topicName: 'audit', readQueueCount: 1, writeQueueCount: 1, perm: 4, ordered: true });
    await store.meta.putGroup({ groupName: 'billing', consumeEnable: true, retryMaxTimes: 16, broadcast: false });
    await store.meta.commitOffset('billing', 'orders', 3, 2 ** 40);
    await store.meta.commitOffset('billing', 'orders', 10, 7);
    await store.meta.commitOffset('other', 'orders', 0, 1);
    await store.meta.putValue('dedup:a', Buffer.from('1'));
    await store.meta.putValue('dedup:b', Buffer.from('2'));
    await store.meta.putValue('dedupe', Buffer.from('3'));
    await store.close();
    store = await openStore();
    expect(await store.meta.getTopic('orders')).toEqual({ topicName: 'orders', readQueueCount: 8, writeQueueCount: 8, perm: 6, ordered: false });
    expect((await store.meta.listTopics()).map((t) => t.topicName)).toEqual(['audit', 'orders']);
    expect(await store.meta.getTopic('missing')).toBeUndefined();
    expect(await store.meta.getGroup('billing')).toEqual({ groupName: 'billing', consumeEnable: true, retryMaxTimes: 16, broadcast: false });
    expect(await store.meta.listGroups()).toHaveLength(1);
    expect(await store.meta.queryOffset('billing', 'orders', 3)).toBe(2 ** 40);
    expect(await store.meta.queryOffset('billing', 'orders', 4)).toBeUndefined();
    expect(await store.meta.listOffsets('billing')).toEqual([
      { group: 'billing', topic: 'orders', queueId: 3, offset: 2 ** 40 },
      { group: 'billing', topic: 'orders', queueId: 10, offset: 7 },
    ]);
    expect(await store.meta.listOffsets()).toHaveLength(3);
    const values: [string, string][] = [];
    for await (const [key, value] of store.meta.iterate('dedup:')) values.push([key, Buffer.from(value).toString()]);
    expect(values).toEqual([['dedup:a', '1'], ['dedup:b', '2']]);
    await store.meta.deleteTopic('audit');
    await store.meta.deleteValue('dedup:a');
    expect(await store.meta.getTopic('audit')).toBeUndefined();
    expect(await store.meta.getValue('dedup:a')).toBeUndefined();
  });
});

describe('the metadata db', () => {
  test(`flushes its memtable to a table once it holds META_WRITE_BUFFER_BYTES (${META_WRITE_BUFFER_BYTES} bytes), not level's 4 MiB`, async ({ dataDir: dir }) => {
    const meta = await MetadataStore.open(dir);
    try {
      const value = Buffer.alloc(32 * 1024, 7);
      // 2 MiB in all: past the 1 MiB write buffer, below level's default.
      for (let i = 0; i < 64; i++) await meta.putValue(`big:${i}`, value);
      const tables = (): string[] => readdirSync(dir).filter((name) => name.endsWith('.ldb'));
      const deadline = Date.now() + 5_000;
      while (tables().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(tables().length).toBeGreaterThan(0);
      expect(Buffer.from((await meta.getValue('big:63'))!)).toEqual(value);
    } finally {
      await meta.close();
    }
  });
});
