// The message-id index keeps a run of generator ids as one level entry (id-run-index.ts): the
// entries written, and lookups of every id of a run (and its neighbours) once they are in level.
import path from 'node:path';
import { describe, expect } from 'vitest';
import type { DispatchBatch } from '../../../../broker/store/batch-encoder.js';
import { MessageIndex } from '../../../../broker/store/message-index.js';
import { MetadataStore, type MetaDb } from '../../../../broker/store/metadata.js';
import { INDEX_RUN_IDS_MAX } from '../../../../broker/store/store-limits.js';
import { decodeRecord, writeU64 } from '../../../../common/record.js';
import { silentLogger } from '../../../../common/logging.js';
import { generatorId } from '../../../helpers/generator-id.js';
import { message, test } from './helpers.js';

const SEGMENT_BYTES = 1 << 20;

/** Records of these ids and sizes, each right after the one before, from `firstPhysicalOffset`. */
function batch(ids: string[], firstPhysicalOffset: number, sizes: number[] = ids.map(() => 100)): DispatchBatch {
  const physicalOffsets: number[] = [];
  let position = firstPhysicalOffset;
  for (const size of sizes) {
    physicalOffsets.push(position);
    position += size;
  }
  return { topic: 't', queueId: 0, firstQueueOffset: 0, entries: Buffer.alloc(0), messageIds: ids, keys: ids.map(() => []), physicalOffsets, sizes: sizes.slice(), endPhysicalOffset: position };
}

function run(instance: number, first: number, count: number, timeMs?: number): string[] {
  return Array.from({ length: count }, (_, i) => generatorId(instance, first + i, timeMs));
}

/** Level keys of the index by kind. */
async function entryCounts(db: MetaDb): Promise<{ runs: number; ids: number }> {
  let runs = 0;
  let ids = 0;
  for await (const key of db.keys({ gte: 'id', lt: 'ie' })) {
    if (key.startsWith('idrun:')) runs++;
    else if (key.startsWith('id:')) ids++;
  }
  return { runs, ids };
}

interface Opened {
  meta: MetadataStore;
  index: MessageIndex;
  locate: (id: string) => Promise<{ physicalOffset: number; size: number }[]>;
}

async function withIndex(dataDir: string, body: (opened: Opened) => Promise<void>): Promise<void> {
  const meta = await MetadataStore.open(path.join(dataDir, 'meta'));
  try {
    const index = await MessageIndex.open(meta, SEGMENT_BYTES, silentLogger());
    await body({ meta, index, locate: (id) => index.locateId(id, 0, 4 * SEGMENT_BYTES) });
  } finally {
    await meta.close();
  }
}

describe('message-id index: runs of generator ids', () => {
  test('a batch of 128 consecutive generator ids is one level entry, and every id of it is found at its exact place', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      const ids = run(7, 1_000, 128);
      // Sizes differ, so a lookup must add the sizes before the id, not multiply.
      const sizes = ids.map((_, i) => 100 + (i % 7));
      const written = batch(ids, 5_000, sizes);
      index.add(written);
      await index.drain();
      expect(await entryCounts(meta.db)).toEqual({ runs: 1, ids: 0 });
      expect({ runs: index.runEntriesWritten, ids: index.idEntriesWritten }).toEqual({ runs: 1, ids: 0 });
      for (const k of [0, 1, 63, 126, 127]) {
        expect(await locate(ids[k]!)).toEqual([{ physicalOffset: written.physicalOffsets[k]!, size: sizes[k]! }]);
      }
      expect(await locate(generatorId(7, 1_128))).toEqual([]); // one past the end
      expect(await locate(generatorId(7, 999))).toEqual([]); // one before the start
      expect(await locate(generatorId(8, 1_000))).toEqual([]); // another instance
      expect(await locate(generatorId(7, 1_000, 0x18c_0000_0001))).toEqual([]); // another time part
    });
  });

  test('a mixed batch: user ids and short stretches get id entries, runs one entry each, all found', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      const ids = ['user-1', ...run(1, 0, 20), 'user-2', ...run(2, 50, 5), ...run(3, 10, 9), '', ...run(3, 19, 8)];
      const written = batch(ids, 0);
      index.add(written);
      await index.drain();
      // Runs: instance 1 (20), instance 3 (9; the empty id breaks it), instance 3 again (8). Id entries: 2 user ids + 5 of instance 2.
      expect(await entryCounts(meta.db)).toEqual({ runs: 3, ids: 7 });
      for (let k = 0; k < ids.length; k++) {
        if (ids[k] === '') continue;
        expect(await locate(ids[k]!)).toEqual([{ physicalOffset: written.physicalOffsets[k]!, size: 100 }]);
      }
    });
  });

  test('a run ends where records are not contiguous, at a segment end, at a new time part and after INDEX_RUN_IDS_MAX ids', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      const gap = [batch(run(4, 0, 10), 0), batch(run(4, 10, 10), 2_000)]; // the second starts 1,000 bytes after the first ends
      const acrossSegment = batch(run(5, 0, 20), SEGMENT_BYTES - 1_000); // 10 records in the first segment, 10 in the next
      const times = batch([...run(6, 0, 10, 0x18c_0000_0000), ...run(6, 10, 10, 0x18c_0000_0001)], 3 * SEGMENT_BYTES);
      const long = batch(run(9, 0, INDEX_RUN_IDS_MAX + 44), 3 * SEGMENT_BYTES + 10_000);
      for (const b of [...gap, acrossSegment, times, long]) index.add(b);
      await index.drain();
      expect(await entryCounts(meta.db)).toEqual({ runs: 2 + 2 + 2 + 2, ids: 0 });
      for (const b of [...gap, acrossSegment, times, long]) {
        for (let k = 0; k < b.messageIds.length; k++) {
          expect(await locate(b.messageIds[k]!)).toEqual([{ physicalOffset: b.physicalOffsets[k]!, size: 100 }]);
        }
      }
    });
  });

  test('records dispatched one at a time (a slave, recovery) form the same run entry', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      const ids = run(11, 500, 128);
      for (let k = 0; k < ids.length; k++) index.add(batch([ids[k]!], 100 * k));
      await index.drain();
      expect(await entryCounts(meta.db)).toEqual({ runs: 1, ids: 0 });
      expect(await locate(ids[77]!)).toEqual([{ physicalOffset: 7_700, size: 100 }]);
    });
  });

  test('ids stored twice in overlapping runs are found at both places, newest first', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ index, locate }) => {
      index.add(batch(run(12, 100, 50), 0));
      index.add(batch([...run(13, 0, 10), ...run(12, 120, 40)], 10_000)); // 120..159 again, after a run of another instance
      await index.drain();
      expect(await locate(generatorId(12, 130))).toEqual([{ physicalOffset: 10_000 + 1_000 + 1_000, size: 100 }, { physicalOffset: 3_000, size: 100 }]);
      expect(await locate(generatorId(12, 110))).toEqual([{ physicalOffset: 1_000, size: 100 }]);
      expect(await locate(generatorId(12, 155))).toEqual([{ physicalOffset: 14_500, size: 100 }]);
    });
  });

  test('a lookup reads run entries only in the segments whose span holds the id, also after reopening', async ({ dataDir }) => {
    const batches = [0, 1, 2, 3].map((segment) => batch(run(50, 1_000 * segment, 100), segment * SEGMENT_BYTES));
    await withIndex(dataDir, async ({ index, locate }) => {
      for (const b of batches) index.add(b);
      await index.drain();
      expect(await locate(generatorId(50, 2_050))).toEqual([{ physicalOffset: 2 * SEGMENT_BYTES + 5_000, size: 100 }]);
      expect(index.runIteratorsOpened).toBe(1);
      expect(await locate(generatorId(51, 2_050))).toEqual([]); // an instance with no runs
      expect(await locate(generatorId(50, 500))).toEqual([]); // between two segments' spans
      expect(index.runIteratorsOpened).toBe(1);
    });
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      expect(await locate(generatorId(50, 3_099))).toEqual([{ physicalOffset: 3 * SEGMENT_BYTES + 9_900, size: 100 }]);
      expect(index.runIteratorsOpened).toBe(1);
      await index.deleteSegment(3 * SEGMENT_BYTES);
      expect(await locate(generatorId(50, 3_099))).toEqual([]);
      expect(index.runIteratorsOpened).toBe(1);
      let spanKeys = 0;
      for await (const key of meta.db.keys({ gte: 'idspan:', lt: 'idspan;' })) if (key.startsWith('idspan:')) spanKeys++;
      expect(spanKeys).toBe(3);
    });
  });

  test('retention clears a deleted segment’s run entries and id entries, and only that segment’s', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      index.add(batch([...run(21, 0, 30), 'user-a'], 0));
      index.add(batch([...run(21, 30, 30), 'user-b'], SEGMENT_BYTES));
      await index.drain();
      expect(await entryCounts(meta.db)).toEqual({ runs: 2, ids: 2 });
      await index.deleteSegment(0);
      expect(await entryCounts(meta.db)).toEqual({ runs: 1, ids: 1 });
      expect(await locate(generatorId(21, 5))).toEqual([]);
      expect(await locate('user-a')).toEqual([]);
      expect(await locate(generatorId(21, 35))).toEqual([{ physicalOffset: SEGMENT_BYTES + 500, size: 100 }]);
      expect(await locate('user-b')).toEqual([{ physicalOffset: SEGMENT_BYTES + 3_000, size: 100 }]);
    });
  });

  test('per-id entries of generator ids written by a broker before run entries are still found', async ({ dataDir }) => {
    await withIndex(dataDir, async ({ meta, index, locate }) => {
      // What the previous code wrote for a run: an id entry per id.
      const old = meta.db.batch();
      for (let k = 0; k < 16; k++) {
        const value = Buffer.alloc(12);
        writeU64(value, 0, 100 * k);
        value.writeUInt32BE(100, 8);
        old.put(`id:${'0'.repeat(20)}\u0000${generatorId(30, k)}`, value);
      }
      await old.write();
      index.add(batch(run(30, 16, 16), 1_600)); // the same producer goes on, now as a run entry
      await index.drain();
      expect(await entryCounts(meta.db)).toEqual({ runs: 1, ids: 16 });
      expect(await locate(generatorId(30, 3))).toEqual([{ physicalOffset: 300, size: 100 }]);
      expect(await locate(generatorId(30, 20))).toEqual([{ physicalOffset: 2_000, size: 100 }]);
    });
  });

  test('a restart that re-indexes from the index progress writes the same entries, and lookups find every id', async ({ openStore, dataDir }) => {
    let store = await openStore();
    const ids = run(40, 0, 128);
    const results = await store.append('t', 0, ids.map((id) => message(id)));
    await store.close();
    // Lose the index (entries and progress), as if its writes had never reached level.
    let meta = await MetadataStore.open(path.join(dataDir, 'meta'));
    expect(await entryCounts(meta.db)).toEqual({ runs: 1, ids: 0 });
    await meta.db.clear({ gte: 'id', lt: 'ie' });
    await meta.putStoreNumber('indexPhysicalOffset', 0);
    await meta.close();
    store = await openStore();
    expect(store.recovery.rebuiltRecords).toBe(128);
    for (const k of [0, 1, 64, 127]) expect(decodeRecord((await store.lookupById(ids[k]!))!).physicalOffset).toBe(results[k]!.physicalOffset);
    expect(await store.lookupById(generatorId(40, 128))).toBeNull();
    await store.close();
    meta = await MetadataStore.open(path.join(dataDir, 'meta'));
    expect(await entryCounts(meta.db)).toEqual({ runs: 1, ids: 0 });
    await meta.close();
  });
});
