// The message-id index before and after its batches reach level: an id stored more than once is
// found at every place, newest first, whether its entries are still in memory or already written.
import path from 'node:path';
import { describe, expect } from 'vitest';
import type { DispatchBatch } from '../../../../broker/store/batch-encoder.js';
import { MessageIndex } from '../../../../broker/store/message-index.js';
import { MetadataStore } from '../../../../broker/store/metadata.js';
import { silentLogger } from '../../../../common/logging.js';
import { generatorId } from '../../../helpers/generator-id.js';
import { test } from './helpers.js';

const SEGMENT_BYTES = 1 << 20;

function batch(ids: string[], firstPhysicalOffset: number): DispatchBatch {
  const physicalOffsets = ids.map((_, i) => firstPhysicalOffset + 100 * i);
  return {
    topic: 't',
    queueId: 0,
    firstQueueOffset: 0,
    entries: Buffer.alloc(0),
    messageIds: ids,
    keys: ids.map(() => []),
    physicalOffsets,
    sizes: ids.map(() => 100),
    endPhysicalOffset: firstPhysicalOffset + 100 * ids.length,
  };
}

describe('message-id index', () => {
  test('finds every place of an id, newest first, while unwritten, partly written and written', async ({ dataDir }) => {
    const meta = await MetadataStore.open(path.join(dataDir, 'meta'));
    try {
      const index = await MessageIndex.open(meta, SEGMENT_BYTES, silentLogger());
      const locate = async (id: string): Promise<number[]> => (await index.locateId(id, 0, 10_000)).map((l) => l.physicalOffset);
      index.add(batch(['a', 'b', 'a'], 0));
      index.add(batch(['c', 'a'], 300));
      // Not written yet (fewer entries than a write gathers, and no timer has fired in this turn).
      expect(index.pendingEntries).toBe(5);
      expect(await locate('a')).toEqual([400, 200, 0]);
      expect(await locate('b')).toEqual([100]);
      expect(await locate('nope')).toEqual([]);
      await index.drain();
      expect(index.pendingEntries).toBe(0);
      index.add(batch(['a'], 500));
      // One unwritten place in memory, then the written ones from level (one key per segment and id: the newest written wins).
      expect((await locate('a'))[0]).toBe(500);
      await index.drain();
      expect(await locate('b')).toEqual([100]);
      expect(await locate('c')).toEqual([300]);
      expect((await locate('a'))[0]).toBe(500);
    } finally {
      await meta.close();
    }
  });

  test('finds generator ids kept as runs while unwritten, newest first, and not their neighbours', async ({ dataDir }) => {
    const meta = await MetadataStore.open(path.join(dataDir, 'meta'));
    try {
      const index = await MessageIndex.open(meta, SEGMENT_BYTES, silentLogger());
      const locate = async (id: string): Promise<number[]> => (await index.locateId(id, 0, 100_000)).map((l) => l.physicalOffset);
      const run = (instance: number, first: number, count: number): string[] => Array.from({ length: count }, (_, i) => generatorId(instance, first + i));
      index.add(batch(run(7, 100, 16), 0)); // a run: no map entry per id
      index.add(batch([generatorId(7, 105), 'user'], 1_600)); // the same id again, alone
      index.add(batch(run(7, 200, 16), 1_800));
      expect(index.pendingEntries).toBe(34);
      // First, in the same turn as the adds: the in-memory part of a lookup runs before its first
      // await, so both unwritten places are seen before the index's write timer can fire (once
      // written, level keeps only the newest place of an id in a segment).
      expect((await locate(generatorId(7, 105))).slice(0, 2)).toEqual([1_600, 500]);
      // The rest hold whether or not the timer has written the batches meanwhile.
      expect(await locate(generatorId(7, 103))).toEqual([300]);
      expect(await locate(generatorId(7, 215))).toEqual([1_800 + 1_500]);
      expect(await locate(generatorId(7, 116))).toEqual([]);
      expect(await locate(generatorId(8, 103))).toEqual([]);
      expect(await locate(generatorId(7, 103, 1))).toEqual([]); // same counter, other time part
      await index.drain();
      expect(await locate(generatorId(7, 103))).toEqual([300]);
      expect(await locate(generatorId(7, 215))).toEqual([3_300]);
    } finally {
      await meta.close();
    }
  });
});
