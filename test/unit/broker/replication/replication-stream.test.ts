// Master → slave streaming with two real stores and a real gRPC server on loopback.
import { describe, expect, it, vi } from 'vitest';
import {
  appendMessages,
  capturingLogger,
  findLog,
  newDataDir,
  openStore,
  readAll,
  startMaster,
  slaveStoreWithAppend,
  startSlave,
  waitCaughtUp,
} from './replication-fixture.js';

const READ_ALL = { maxCount: 4_096, maxBytes: 32 * 1024 * 1024 };

describe('replication stream', () => {
  it('copies the commit log byte for byte and the slave serves the same queue offsets', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    const { address } = await startMaster(masterStore, log);
    const slave = startSlave(slaveStore, address, log);

    await appendMessages(masterStore, 'Orders', 0, 40);
    await appendMessages(masterStore, 'Orders', 1, 25, 2_000);
    await appendMessages(masterStore, 'Audit', 0, 30, 100);
    await waitCaughtUp(slaveStore, masterStore);

    expect(masterStore.maxPhysicalOffset).toBeGreaterThan(64 * 1024); // a segment rolled, with padding
    const masterBytes = await readAll(masterStore, 0, masterStore.maxPhysicalOffset);
    expect((await readAll(slaveStore, 0, slaveStore.maxPhysicalOffset)).equals(masterBytes)).toBe(true);
    for (const [topic, queueId, count] of [['Orders', 0, 40], ['Orders', 1, 25], ['Audit', 0, 30]] as const) {
      expect(slaveStore.queueRange(topic, queueId)).toEqual({ minQueueOffset: 0, maxQueueOffset: count });
      const fromMaster = await masterStore.read(topic, queueId, 5, READ_ALL);
      const fromSlave = await slaveStore.read(topic, queueId, 5, READ_ALL);
      expect(fromSlave.count).toBe(count - 5);
      expect(fromSlave.nextQueueOffset).toBe(fromMaster.nextQueueOffset);
      expect(fromSlave.records.equals(fromMaster.records)).toBe(true);
    }
    await vi.waitFor(() => expect(slave.lag()).toEqual({ bytes: 0, ms: 0 }));
    expect(slave.connected).toBe(true);
  });

  it('keeps tailing: appends made after the slave caught up arrive without reconnecting', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    const { address, master } = await startMaster(masterStore, log);
    const slave = startSlave(slaveStore, address, log);
    await vi.waitFor(() => expect(slave.connected).toBe(true));

    for (let round = 0; round < 5; round += 1) {
      await appendMessages(masterStore, 'Tail', round % 2, 3);
      await waitCaughtUp(slaveStore, masterStore, 5_000);
    }
    expect(slave.status().streamsOpened).toBe(1);
    expect(slaveStore.queueRange('Tail', 0).maxQueueOffset).toBe(9);
    await vi.waitFor(() => expect(master.lag()).toMatchObject({ bytes: 0, slaves: [expect.objectContaining({ brokerId: 1, inSync: true, lagBytes: 0 })] }));
  });

  it('catches up a large log from empty', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir(), { segmentBytes: 64 * 1024 });
    // ~6 MiB over ~100 segments, written before the slave exists.
    for (let queueId = 0; queueId < 4; queueId += 1) await appendMessages(masterStore, 'Bulk', queueId, 400, 4_000);
    const slaveStore = await openStore(newDataDir());
    const { address } = await startMaster(masterStore, log);
    const startedMs = Date.now();
    startSlave(slaveStore, address, log);
    await waitCaughtUp(slaveStore, masterStore, 20_000);
    log.info({ ms: Date.now() - startedMs, bytes: masterStore.maxPhysicalOffset }, 'catch-up done');

    expect(masterStore.maxPhysicalOffset).toBeGreaterThan(6 * 1024 * 1024);
    const end = masterStore.maxPhysicalOffset;
    expect((await readAll(slaveStore, 0, end)).equals(await readAll(masterStore, 0, end))).toBe(true);
    for (let queueId = 0; queueId < 4; queueId += 1) expect(slaveStore.queueRange('Bulk', queueId).maxQueueOffset).toBe(400);
  });

  it('resumes after a slave restart from its own offset', async () => {
    const { log, records } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveDir = newDataDir();
    let slaveStore = await openStore(slaveDir);
    const { address } = await startMaster(masterStore, log);
    let slave = startSlave(slaveStore, address, log);
    await appendMessages(masterStore, 'Resume', 0, 50);
    await waitCaughtUp(slaveStore, masterStore);
    const copiedBeforeRestart = slaveStore.maxPhysicalOffset;
    await slave.close();
    await slaveStore.close();

    await appendMessages(masterStore, 'Resume', 0, 50);
    slaveStore = await openStore(slaveDir);
    expect(slaveStore.maxPhysicalOffset).toBe(copiedBeforeRestart);
    slave = startSlave(slaveStore, address, log);
    await waitCaughtUp(slaveStore, masterStore);

    const connects = records.filter((r) => r.msg === 'slave connected');
    expect(connects.map((r) => r.slavePhysicalOffset)).toEqual([0, copiedBeforeRestart]);
    const end = masterStore.maxPhysicalOffset;
    expect((await readAll(slaveStore, 0, end)).equals(await readAll(masterStore, 0, end))).toBe(true);
    const read = await slaveStore.read('Resume', 0, 0, { maxCount: 4_096, maxBytes: 32 * 1024 * 1024 });
    expect(read.count).toBe(100);
  });

  it('reconnects with backoff when the master goes away and comes back on the same address', async () => {
    const { log, records } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    const first = await startMaster(masterStore, log);
    const slave = startSlave(slaveStore, first.address, log);
    await appendMessages(masterStore, 'Restart', 0, 20);
    await waitCaughtUp(slaveStore, masterStore);

    await first.stop();
    await vi.waitFor(() => expect(slave.connected).toBe(false));
    await appendMessages(masterStore, 'Restart', 0, 20);
    await startMaster(masterStore, log, first.port);
    await waitCaughtUp(slaveStore, masterStore);

    expect(slave.status().streamsOpened).toBeGreaterThanOrEqual(2);
    expect(findLog(records, 'replication stream broke; reconnecting')).toBeDefined();
    expect(slaveStore.queueRange('Restart', 0).maxQueueOffset).toBe(40);
  });

  it('follows the master to a new address', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    const slave = startSlave(slaveStore, undefined, log);
    await appendMessages(masterStore, 'Moved', 0, 10);
    const { address } = await startMaster(masterStore, log);
    expect(slave.connected).toBe(false);
    slave.setMasterAddress(address);
    await waitCaughtUp(slaveStore, masterStore);
    expect(slave.status().masterAddress).toBe(address);
  });
  it('takes the next chunk while an append is still being written, in order, with one report covering both', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir(), { flushMode: 'sync' });
    await appendMessages(masterStore, 'Pipe', 0, 200, 1_000); // ~240 KiB: many 4 KiB chunks
    let started = 0;
    let maxConcurrent = 0;
    let running = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const store = slaveStoreWithAppend(slaveStore, (physicalOffset, bytes) => {
        started += 1;
        running += 1;
        maxConcurrent = Math.max(maxConcurrent, running);
        // Placed at once (offsets advance in call order); the first completes only when released.
        const appended = slaveStore.appendCommitLogBytes(physicalOffset, bytes);
        const first = started === 1;
        return appended.then(async () => {
          if (first) await held;
          running -= 1;
        });
    });
    const { address } = await startMaster(masterStore, log, 0, { chunkBytesMax: 4_096 });
    startSlave(store, address, log);
    await vi.waitFor(() => expect(started).toBeGreaterThan(3));
    expect(maxConcurrent).toBeGreaterThan(1);
    release();
    await waitCaughtUp(slaveStore, masterStore);
    expect((await readAll(slaveStore, 0, slaveStore.maxPhysicalOffset)).equals(await readAll(masterStore, 0, masterStore.maxPhysicalOffset))).toBe(true);
    expect(slaveStore.queueRange('Pipe', 0)).toEqual({ minQueueOffset: 0, maxQueueOffset: 200 });
  });
});
