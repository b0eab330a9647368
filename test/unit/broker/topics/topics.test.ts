import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { MetadataStore } from '../../../../broker/store/metadata.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';
import { silentLogger } from '../../../../common/logging.js';

let dir: string;
let meta: MetadataStore;
let changes: number;

function manager(autoCreateTopics = false): TopicManager {
  return new TopicManager({ meta, autoCreateTopics, defaultQueueCount: 8, onChange: () => {
    changes++;
  }, log: silentLogger() });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-topics-'));
  meta = await MetadataStore.open(join(dir, 'meta'));
  changes = 0;
});

afterEach(async () => {
  await meta.close();
  rmSync(dir, { recursive: true, force: true });
});

async function code(promise: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (isConveyorError(err)) return err.code;
    throw err;
  }
}

describe('topic management', () => {
  it('persists upserted topics and loads them back after a reopen', async () => {
    const topics = manager();
    await topics.upsert({ topicName: 'b', readQueueCount: 2, writeQueueCount: 2, perm: 6 });
    await topics.upsert({ topicName: 'a', readQueueCount: 4, writeQueueCount: 4 });
    await topics.upsert({ topicName: 'b', readQueueCount: 3, writeQueueCount: 3, perm: 4 });
    expect(changes).toBe(3);
    const reloaded = manager();
    expect(await reloaded.load()).toBe(2);
    expect(reloaded.list()).toEqual([
      { topicName: 'a', readQueueCount: 4, writeQueueCount: 4, perm: 6, ordered: false },
      { topicName: 'b', readQueueCount: 3, writeQueueCount: 3, perm: 4, ordered: false },
    ]);
  });

  it('refuses an unknown topic for a send with TOPIC_NOT_FOUND when auto-create is off', async () => {
    const topics = manager(false);
    expect(await code(topics.forSend('new-topic'))).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(topics.size).toBe(0);
    expect(changes).toBe(0);
  });

  it('auto-creates an unknown topic once with the default queue count, even for concurrent sends', async () => {
    const topics = manager(true);
    const [a, b] = await Promise.all([topics.forSend('new-topic'), topics.forSend('new-topic')]);
    expect(a).toEqual({ topicName: 'new-topic', readQueueCount: 8, writeQueueCount: 8, perm: 6, ordered: false });
    expect(b).toEqual(a);
    expect(changes).toBe(1);
    expect(await meta.getTopic('new-topic')).toMatchObject({ topicName: 'new-topic', writeQueueCount: 8 });
  });

  it('deletes a topic from cache and metadata, and refuses to delete an unknown one', async () => {
    const topics = manager();
    await topics.upsert({ topicName: 't', readQueueCount: 1, writeQueueCount: 1 });
    await topics.delete('t');
    expect(topics.get('t')).toBeUndefined();
    expect(await meta.getTopic('t')).toBeUndefined();
    expect(await code(topics.delete('t'))).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(changes).toBe(2);
  });

  it('changes nothing on an invalid config', async () => {
    const topics = manager();
    expect(await code(topics.upsert({ topicName: 'bad name', readQueueCount: 1, writeQueueCount: 1 }))).toBe(ErrorCode.INVALID_NAME);
    expect(await code(topics.upsert({ topicName: 't', readQueueCount: 1, writeQueueCount: 2000 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(topics.size).toBe(0);
    expect(await meta.listTopics()).toEqual([]);
    expect(changes).toBe(0);
  });
});
