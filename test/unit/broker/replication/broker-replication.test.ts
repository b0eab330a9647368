// The broker's replication wiring without processes: the slave's metadata target deletes a topic
// the master dropped, with its data and offsets, only when that is safe; the status JSON of each
// role carries the lag and, on a slave, the error that stopped replication.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { slaveMetadataTarget, startBrokerReplication, type BrokerReplicationOptions } from '../../../../broker/replication/index.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';
import { silentLogger } from '../../../../common/logging.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openBrokerStore(): Promise<{ store: MessageStore; topics: TopicManager }> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-broker-replication-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = await MessageStore.open({ dataDir: dir, segmentBytes: 64 * 1024, backgroundTimers: false });
  cleanups.push(() => store.close());
  const topics = new TopicManager({ meta: store.meta, autoCreateTopics: false, defaultQueueCount: 1, onChange: () => undefined, log: silentLogger() });
  await topics.load();
  return { store, topics };
}

describe('the slave metadata target', () => {
  it('deletes a topic the master dropped with its queues and offsets once deletion is safe, and refuses before', async () => {
    const { store, topics } = await openBrokerStore();
    await topics.upsert({ topicName: 'gone', readQueueCount: 1, writeQueueCount: 1, perm: 6 });
    await store.append('gone', 0, [{ messageId: 'a', keys: [], tag: '', properties: {}, body: Buffer.from('x'), bornTimestampMs: 1, flags: 0 }]);
    await store.meta.commitOffset('g', 'gone', 0, 1);
    let safe = false;
    const target = slaveMetadataTarget(store, topics, () => safe, silentLogger());

    const refused = await target.deleteTopic('gone').catch((err: unknown) => err);
    expect(isConveyorError(refused, ErrorCode.SERVICE_UNAVAILABLE)).toBe(true);
    expect(topics.get('gone')).toBeDefined();
    expect(store.queueRange('gone', 0).maxQueueOffset).toBe(1);

    safe = true;
    await target.deleteTopic('gone');
    expect(topics.get('gone')).toBeUndefined();
    expect(await store.meta.listTopics()).toEqual([]);
    expect(store.queueRange('gone', 0).maxQueueOffset).toBe(0);
    expect(await store.meta.listOffsets('g')).toEqual([]);
  });

  it('writes topic configs through the topic cache', async () => {
    const { store, topics } = await openBrokerStore();
    const target = slaveMetadataTarget(store, topics, () => true, silentLogger());
    await target.putTopic({ topicName: 'copied', readQueueCount: 2, writeQueueCount: 2, perm: 6 });
    expect(topics.get('copied')).toMatchObject({ readQueueCount: 2 });
  });
});

describe('replication status per role', () => {
  function options(store: MessageStore, topics: TopicManager, brokerId: number, replicationMode: 'async' | 'sync'): BrokerReplicationOptions {
    return {
      config: { clusterName: 'C', brokerName: 'broker-a', brokerId, segmentBytes: 64 * 1024, replicationMode, replicationTimeoutMs: 1_500, metadataSyncIntervalMs: 60_000 },
      store,
      topics,
      log: silentLogger(),
      clock: Date.now,
    };
  }

  it('a sync master serves Replication, waits on sends and shows no slave yet', async () => {
    const { store, topics } = await openBrokerStore();
    const replication = startBrokerReplication(options(store, topics, 0, 'sync'));
    cleanups.push(() => replication.close());
    expect(replication.role).toBe('master');
    expect(replication.handlers).toBeDefined();
    expect(replication.sync?.timeoutMs).toBe(1_500);
    expect(await replication.sync?.waitForReplication(1, 1_000)).toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    expect(replication.status()).toMatchObject({ replicationLagBytes: 0, replicationLagMs: 0, replicationError: null, replication: { role: 'master', mode: 'sync', connectedSlaves: 0 } });
  });

  it('an async master does not hold sends', async () => {
    const { store, topics } = await openBrokerStore();
    const replication = startBrokerReplication(options(store, topics, 0, 'async'));
    cleanups.push(() => replication.close());
    expect(replication.sync).toBeUndefined();
  });

  it('a slave serves nothing, never holds sends, and reports the master it was told', async () => {
    const { store, topics } = await openBrokerStore();
    const replication = startBrokerReplication(options(store, topics, 1, 'sync'));
    cleanups.push(() => replication.close());
    expect([replication.role, replication.handlers, replication.sync]).toEqual(['slave', undefined, undefined]);
    expect(replication.status()).toMatchObject({ replicationError: null, replication: { role: 'slave', connected: false, masterAddress: null } });
    replication.masterAddressAnswered('127.0.0.1:1');
    expect(replication.status()).toMatchObject({ replication: { masterAddress: '127.0.0.1:1' } });
  });
});
