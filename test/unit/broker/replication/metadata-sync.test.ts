// Metadata copy: the slave mirrors the master's topic and group configs and merges consumer
// offsets by maximum, over a real GetMetadata call.
import { describe, expect, it, vi } from 'vitest';
import { applyMetadataSnapshot, metadataTargetThrough, type MetadataTarget } from '../../../../broker/replication/metadata-sync.js';
import { capturingLogger, findLog, newDataDir, openStore, startMaster, startSlave } from './replication-fixture.js';

const topic = (topicName: string, queues = 4) => ({ topicName, readQueueCount: queues, writeQueueCount: queues, perm: 6, ordered: false });
const group = (groupName: string, retryMaxTimes = 16) => ({ groupName, consumeEnable: true, retryMaxTimes, broadcast: false });

describe('metadata copy', () => {
  it('mirrors topics and groups and keeps the larger consumer offset', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    await masterStore.meta.putTopic(topic('Orders'));
    await masterStore.meta.putTopic(topic('Audit', 2));
    await masterStore.meta.putGroup(group('billing'));
    await masterStore.meta.commitOffset('billing', 'Orders', 0, 42);
    await masterStore.meta.commitOffset('billing', 'Orders', 1, 10);
    // The slave's own state: a topic the master deleted, and an offset committed on the slave while the master was away.
    await slaveStore.meta.putTopic(topic('Stale'));
    await slaveStore.meta.putGroup(group('old-group'));
    await slaveStore.meta.commitOffset('billing', 'Orders', 1, 99);

    const { address } = await startMaster(masterStore, log);
    const slave = startSlave(slaveStore, address, log);
    await slave.syncMetadataNow();

    expect((await slaveStore.meta.listTopics()).map((t) => t.topicName).sort()).toEqual(['Audit', 'Orders']);
    expect(await slaveStore.meta.getTopic('Audit')).toMatchObject({ readQueueCount: 2, writeQueueCount: 2 });
    expect((await slaveStore.meta.listGroups()).map((g) => g.groupName)).toEqual(['billing']);
    expect(await slaveStore.meta.queryOffset('billing', 'Orders', 0)).toBe(42);
    expect(await slaveStore.meta.queryOffset('billing', 'Orders', 1)).toBe(99);

    await masterStore.meta.commitOffset('billing', 'Orders', 0, 50);
    await masterStore.meta.putTopic(topic('Orders', 8));
    await slave.syncMetadataNow();
    expect(await slaveStore.meta.queryOffset('billing', 'Orders', 0)).toBe(50);
    expect(await slaveStore.meta.getTopic('Orders')).toMatchObject({ readQueueCount: 8 });
  });

  it('copies on its interval without being asked', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    const { address } = await startMaster(masterStore, log);
    startSlave(slaveStore, address, log, { metadataSyncIntervalMs: 100 });
    await masterStore.meta.commitOffset('g', 'T', 3, 7);
    await vi.waitFor(async () => expect(await slaveStore.meta.queryOffset('g', 'T', 3)).toBe(7));
  });

  it('reports a failed copy once and recovers when the master is reachable', async () => {
    const { log, records } = capturingLogger();
    const slaveStore = await openStore(newDataDir());
    const slave = startSlave(slaveStore, '127.0.0.1:1', log);
    await slave.syncMetadataNow();
    await slave.syncMetadataNow();
    expect(records.filter((r) => r.msg === 'metadata copy from master failed')).toHaveLength(1);

    const masterStore = await openStore(newDataDir());
    await masterStore.meta.putTopic(topic('Later'));
    const { address } = await startMaster(masterStore, log);
    slave.setMasterAddress(address);
    await vi.waitFor(async () => expect(await slaveStore.meta.getTopic('Later')).toBeDefined());
    expect(findLog(records, 'metadata copied from master')).toBeDefined();
  });

  it('leaves topics and groups alone while the data version is unchanged, but still merges offsets', async () => {
    const writes: string[] = [];
    const target: MetadataTarget = {
      listTopics: () => Promise.resolve([]),
      listGroups: () => Promise.resolve([]),
      listOffsets: () => Promise.resolve([]),
      putTopic: (t) => Promise.resolve(writes.push(`topic ${t.topicName ?? ''}`)),
      deleteTopic: (n) => Promise.resolve(writes.push(`delete ${n}`)),
      putGroup: (g) => Promise.resolve(writes.push(`group ${g.groupName ?? ''}`)),
      deleteGroup: (n) => Promise.resolve(writes.push(`delete group ${n}`)),
      commitOffset: (g, t, q, o) => Promise.resolve(writes.push(`offset ${g}/${t}/${q}=${o}`)),
    };
    const version = { timestampMs: 1_000, counter: 3 };
    const snapshot = { topics: [topic('A')], groups: [group('G')], offsets: [{ consumerGroup: 'G', topic: 'A', queueId: 0, queueOffset: 5 }], dataVersion: version };
    const applied = await applyMetadataSnapshot(target, snapshot, { ...version });
    expect(applied.configsCopied).toBe(false);
    expect(writes).toEqual(['offset G/A/0=5']);
    await applyMetadataSnapshot(target, snapshot, { timestampMs: 1_000, counter: 2 });
    expect(writes).toContain('topic A');
    expect(writes).toContain('group G');
  });
});

describe('metadata target through a topic cache', () => {
  it('sends topic changes through the cache and the rest to the store', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    await masterStore.meta.putTopic(topic('Cached'));
    await masterStore.meta.putGroup(group('g1'));
    await slaveStore.meta.putTopic(topic('Dropped'));
    const cache = new Map<string, number>([['Dropped', 4]]);
    const calls: string[] = [];
    const target = metadataTargetThrough(slaveStore.meta, {
      upsert: async (config) => {
        calls.push(`upsert ${config.topicName ?? ''}`);
        cache.set(config.topicName ?? '', config.readQueueCount ?? 0);
        await slaveStore.meta.putTopic(config);
      },
      delete: async (name) => {
        calls.push(`delete ${name}`);
        cache.delete(name);
        await slaveStore.meta.deleteTopic(name);
      },
    });
    const { address } = await startMaster(masterStore, log);
    const slave = startSlave(slaveStore, address, log, { metadataTarget: target });
    await slave.syncMetadataNow();
    expect(calls.sort()).toEqual(['delete Dropped', 'upsert Cached']);
    expect([...cache.keys()]).toEqual(['Cached']);
    expect((await slaveStore.meta.listGroups()).map((g) => g.groupName)).toEqual(['g1']);
  });
});
