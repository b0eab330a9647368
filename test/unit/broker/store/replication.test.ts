import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { MessageStore, type StoreOptions } from '../../../../broker/store/index.js';
import { ErrorCode } from '../../../../common/errors.js';
import { decodeRecord } from '../../../../common/record.js';
import { message, messages, test } from './helpers.js';
import { rejectionOf } from '../../../helpers/errors.js';
import { expectProgress, loopBound } from '../../../helpers/loop-bound.js';

const base: Omit<StoreOptions, 'dataDir'> = { segmentBytes: 64 * 1024, consumeQueueEntriesPerFile: 100, backgroundTimers: false };

async function withStores(dataDir: string, slaveOptions: Partial<StoreOptions>, fn: (master: MessageStore, slave: MessageStore, dirs: { master: string; slave: string }) => Promise<void>): Promise<void> {
  const dirs = { master: path.join(dataDir, 'master'), slave: path.join(dataDir, 'slave') };
  const master = await MessageStore.open({ ...base, dataDir: dirs.master });
  const slave = await MessageStore.open({ ...base, ...slaveOptions, dataDir: dirs.slave });
  try {
    await fn(master, slave, dirs);
  } finally {
    await master.close();
    await slave.close();
  }
}

/** Copies the master's log to the slave in pieces of pseudo-random sizes, most of them ending inside a record. */
async function copy(master: MessageStore, slave: MessageStore, seed = 7): Promise<number> {
  let state = seed;
  const nextSize = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return 1 + (state % 5_000);
  };
  let calls = 0;
  const bound = loopBound('copying the log to the slave', master.maxPhysicalOffset + 1);
  while (slave.receivedPhysicalOffset < master.maxPhysicalOffset) {
    bound.tick();
    const from = slave.receivedPhysicalOffset;
    const bytes = await master.readCommitLog(from, nextSize());
    await slave.appendCommitLogBytes(from, bytes);
    expectProgress('slave copy', from, slave.receivedPhysicalOffset);
    calls++;
  }
  return calls;
}

describe('replication hooks', () => {
  test('a slave fed raw bytes in odd-sized pieces holds the same log, queues and index', async ({ dataDir }) => {
    await withStores(dataDir, {}, async (master, slave, dirs) => {
      for (let round = 0; round < 8; round++) {
        await master.append('orders', round % 3, messages(`o${round}`, 12, 700 + round * 50, { keys: [`k${round}`], tag: round % 2 ? 'odd' : 'even' }));
        await master.append('audit', 0, messages(`a${round}`, 3, 100));
      }
      expect(await copy(master, slave)).toBeGreaterThan(10);
      expect(slave.maxPhysicalOffset).toBe(master.maxPhysicalOffset);
      await slave.flush();
      await master.flush();
      const segments = await readdir(path.join(dirs.master, 'commitlog'));
      expect(await readdir(path.join(dirs.slave, 'commitlog'))).toEqual(segments);
      for (const name of segments) {
        const [a, b] = await Promise.all([readFile(path.join(dirs.master, 'commitlog', name)), readFile(path.join(dirs.slave, 'commitlog', name))]);
        expect(b.equals(a), name).toBe(true);
      }
      for (const [topic, queueId] of [['orders', 0], ['orders', 1], ['orders', 2], ['audit', 0]] as const) {
        expect(slave.queueRange(topic, queueId)).toEqual(master.queueRange(topic, queueId));
        const options = { maxCount: 1000, maxBytes: 1 << 22, tags: new Set(['odd']) };
        const [m, s] = await Promise.all([master.read(topic, queueId, 0, options), slave.read(topic, queueId, 0, options)]);
        expect(s.records.equals(m.records)).toBe(true);
        expect(s.count).toBe(m.count);
      }
      expect(decodeRecord((await slave.lookupById('o5-3'))!).messageId).toBe('o5-3');
      expect((await slave.lookupByKey('orders', 'k2', 100)).length).toBe(12);
    });
  });

  test('keeps a partial record in memory: the files hold whole records only', async ({ dataDir }) => {
    await withStores(dataDir, {}, async (master, slave) => {
      const [first, second] = await master.append('t', 0, [message('one', { body: Buffer.alloc(500) }), message('two', { body: Buffer.alloc(500) })]);
      const bytes = await master.readCommitLog(0, master.maxPhysicalOffset);
      await slave.appendCommitLogBytes(0, bytes.subarray(0, first!.size + 100));
      expect(slave.maxPhysicalOffset).toBe(first!.size);
      expect(slave.receivedPhysicalOffset).toBe(first!.size + 100);
      expect(slave.queueRange('t', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 1 });
      await slave.appendCommitLogBytes(first!.size + 100, bytes.subarray(first!.size + 100));
      expect(slave.maxPhysicalOffset).toBe(second!.physicalOffset + second!.size);
      expect(slave.queueRange('t', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 2 });
      // A resend from the last whole record (after a reconnect) replaces the buffered tail.
      await master.append('t', 0, [message('three')]);
      const more = await master.readCommitLog(slave.maxPhysicalOffset, 1 << 20);
      await slave.appendCommitLogBytes(slave.maxPhysicalOffset, more.subarray(0, 10));
      await slave.appendCommitLogBytes(slave.maxPhysicalOffset, more);
      expect(slave.maxPhysicalOffset).toBe(master.maxPhysicalOffset);
    });
  });

  test('refuses bytes that do not continue the log or fail their check, and writes nothing', async ({ dataDir }) => {
    await withStores(dataDir, {}, async (master, slave) => {
      await master.append('t', 0, messages('m', 3));
      const bytes = await master.readCommitLog(0, 1 << 20);
      expect((await rejectionOf(slave.appendCommitLogBytes(5, bytes))).code).toBe(ErrorCode.INVALID_ARGUMENT);
      const corrupt = Buffer.from(bytes);
      corrupt[corrupt.length - 3]! ^= 1;
      expect((await rejectionOf(slave.appendCommitLogBytes(0, corrupt))).code).toBe(ErrorCode.CORRUPT_RECORD);
      expect(slave.maxPhysicalOffset).toBe(0);
      expect((await rejectionOf(master.readCommitLog(master.maxPhysicalOffset + 1, 10))).code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
      expect((await master.readCommitLog(master.maxPhysicalOffset, 10)).length).toBe(0);
    });
  });

  test('a sync-flush slave resolves each append after an fsync and reports it', async ({ dataDir }) => {
    await withStores(dataDir, { flushMode: 'sync' }, async (master, slave) => {
      const flushed: number[] = [];
      slave.onFlushed((offset) => flushed.push(offset));
      await master.append('t', 0, messages('m', 20, 1000));
      const bound = loopBound('copying the log to the sync-flush slave', Math.ceil(master.maxPhysicalOffset / 3000) + 1);
      while (slave.receivedPhysicalOffset < master.maxPhysicalOffset) {
        bound.tick();
        const from = slave.receivedPhysicalOffset;
        await slave.appendCommitLogBytes(from, await master.readCommitLog(from, 3000));
        expectProgress('sync-flush slave copy', from, slave.receivedPhysicalOffset);
        expect(slave.flushedPhysicalOffset).toBe(slave.maxPhysicalOffset);
      }
      expect(flushed.at(-1)).toBe(master.maxPhysicalOffset);
      expect(slave.stats().fsyncCount).toBeGreaterThan(0);
    });
  });

  test('an empty slave can start at the master\'s first remaining segment', async ({ dataDir }) => {
    let now = Date.now();
    const dirs = { master: path.join(dataDir, 'm'), slave: path.join(dataDir, 's') };
    const master = await MessageStore.open({ ...base, dataDir: dirs.master, clock: () => now, retentionHours: 1 });
    const slave = await MessageStore.open({ ...base, dataDir: dirs.slave });
    try {
      await master.append('t', 0, messages('m', 200, 1000));
      now += 2 * 3_600_000;
      await master.runRetention();
      expect(master.minPhysicalOffset).toBeGreaterThan(0);
      const start = master.minPhysicalOffset;
      await slave.appendCommitLogBytes(start, await master.readCommitLog(start, 1 << 20));
      expect(slave.maxPhysicalOffset).toBe(master.maxPhysicalOffset);
      expect(slave.queueRange('t', 0)).toEqual(master.queueRange('t', 0));
    } finally {
      await master.close();
      await slave.close();
    }
  });
});
