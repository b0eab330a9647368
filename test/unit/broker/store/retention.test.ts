import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { ErrorCode } from '../../../../common/errors.js';
import { decodeRecords } from '../../../../common/record.js';
import { messages, test } from './helpers.js';
import { rejectionOf } from '../../../helpers/errors.js';

const HOUR = 3_600_000;

describe('retention', () => {
  test('deletes segments older than the retention time, never the active one, and moves queue minimums', async ({ openStore, dataDir }) => {
    let now = Date.now();
    // The disk reading is fixed: this test is about age, and the machine's own disk may be past the soft threshold.
    const diskUsage = async (): Promise<{ usedPercent: number }> => ({ usedPercent: 10 });
    let store = await openStore({ clock: () => now, retentionHours: 1, diskUsage });
    for (let i = 0; i < 20; i++) {
      await store.append('t', 0, messages(`a${i}`, 10, 1000));
      await store.append('t', 1, messages(`b${i}`, 10, 1000));
    }
    await store.flush();
    const segmentsBefore = (await readdir(path.join(dataDir, 'commitlog'))).sort();
    const queueFilesBefore = (await readdir(path.join(dataDir, 'consumequeue', 't', '0'))).length;
    expect(segmentsBefore.length).toBeGreaterThan(2);
    expect((await store.runRetention()).deletedSegments).toEqual([]);

    now += 2 * HOUR;
    const run = await store.runRetention();
    expect(run.deletedSegments).toHaveLength(segmentsBefore.length - 1);
    expect(await readdir(path.join(dataDir, 'commitlog'))).toEqual([segmentsBefore.at(-1)]);
    expect(store.minPhysicalOffset).toBe(Number(segmentsBefore.at(-1)));
    expect((await readdir(path.join(dataDir, 'consumequeue', 't', '0'))).length).toBeLessThan(queueFilesBefore);

    const { minQueueOffset, maxQueueOffset } = store.queueRange('t', 0);
    expect(minQueueOffset).toBeGreaterThan(0);
    expect(maxQueueOffset).toBe(200);
    const below = await rejectionOf(store.read('t', 0, minQueueOffset - 1, { maxCount: 10, maxBytes: 1 << 20 }));
    expect(below.code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(below.fields).toMatchObject({ minOffset: minQueueOffset, maxOffset: 200 });
    const first = await store.read('t', 0, minQueueOffset, { maxCount: 1, maxBytes: 1 << 20 });
    const [record] = [...decodeRecords(first.records)];
    expect(record!.queueOffset).toBe(minQueueOffset);
    expect(record!.physicalOffset).toBeGreaterThanOrEqual(store.minPhysicalOffset);
    expect(await store.lookupById('a0-0')).toBeNull();
    expect((await rejectionOf(store.readCommitLog(0, 100))).code).toBe(ErrorCode.REPLICATION_DATA_GONE);

    await store.close();
    store = await openStore({ clock: () => now, retentionHours: 1, diskUsage });
    expect(store.queueRange('t', 0)).toEqual({ minQueueOffset, maxQueueOffset: 200 });
    expect(store.recovery.rebuiltRecords).toBe(0);
  });

  test('deletes the oldest segments while the disk is past the soft threshold', async ({ openStore }) => {
    const readings: number[] = [];
    const store = await openStore({ diskUsage: async () => ({ usedPercent: readings.shift() ?? 50 }) });
    for (let i = 0; i < 6; i++) await store.append('t', 0, messages(`m${i}`, 20, 1000));
    const min = store.minPhysicalOffset;
    // 80 % when the run starts; 70 % measured again after the first deletion.
    readings.push(80, 70);
    const run = await store.runRetention();
    expect(run.deletedSegments).toEqual([min]);
    expect(run.usedPercent).toBe(70);
    expect(store.minPhysicalOffset).toBe(min + 64 * 1024);
    // Stuck past the threshold: at most RETENTION_PRESSURE_SEGMENTS_PER_RUN_MAX per run, never the active segment.
    readings.push(...Array.from({ length: 40 }, () => 99));
    await store.runRetention();
    expect(store.minPhysicalOffset).toBe(Math.floor((store.maxPhysicalOffset - 1) / (64 * 1024)) * 64 * 1024);
  });
});
