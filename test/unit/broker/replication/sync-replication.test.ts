// Sync replication on a real master/slave pair: waitForReplication answers OK, SLAVE_TIMEOUT and
// SLAVE_NOT_AVAILABLE as the slave confirms, stalls, or goes away.
import { describe, expect, it, vi } from 'vitest';
import type { SlaveStore } from '../../../../broker/replication/index.js';
import type { MessageStore } from '../../../../broker/store/index.js';
import { ErrorCode } from '../../../../common/errors.js';
import { appendMessages, capturingLogger, endOf, newDataDir, openStore, startMaster, startSlave } from './replication-fixture.js';

/** The slave's store with a flush that can be held (a slave whose disk stalls). */
function stallableFlush(store: MessageStore): { port: SlaveStore; stall(): void; resume(): void } {
  let held: Promise<void> | undefined;
  let release: () => void = () => undefined;
  const port: SlaveStore = {
    get maxPhysicalOffset() {
      return store.maxPhysicalOffset;
    },
    get flushedPhysicalOffset() {
      return store.flushedPhysicalOffset;
    },
    get receivedPhysicalOffset() {
      return store.receivedPhysicalOffset;
    },
    appendCommitLogBytes: (physicalOffset, bytes) => store.appendCommitLogBytes(physicalOffset, bytes),
    flushCommitLog: async () => {
      await held;
      await store.flushCommitLog();
    },
    onFlushed: (listener) => store.onFlushed(listener),
    meta: store.meta,
  };
  return {
    port,
    stall() {
      held = new Promise((resolve) => {
        release = resolve;
      });
    },
    resume() {
      held = undefined;
      release();
    },
  };
}

describe('sync replication', () => {
  it('answers OK once the slave has flushed the batch', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir(), { flushIntervalMs: 60_000 });
    const { address, master } = await startMaster(masterStore, log);
    startSlave(slaveStore, address, log);
    await vi.waitFor(() => expect(master.connectedSlaveCount).toBe(1));

    for (let i = 0; i < 5; i += 1) {
      const end = endOf(await appendMessages(masterStore, 'Sync', 0, 4));
      const startedMs = Date.now();
      await expect(master.waitForReplication(end, 5_000)).resolves.toBe(ErrorCode.OK);
      expect(Date.now() - startedMs).toBeLessThan(2_000);
      expect(slaveStore.flushedPhysicalOffset).toBeGreaterThanOrEqual(end);
    }
  });

  it('answers SLAVE_TIMEOUT when the slave does not confirm in time, and OK again once it does', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir(), { flushIntervalMs: 60_000 });
    const stallable = stallableFlush(slaveStore);
    const { address, master } = await startMaster(masterStore, log);
    startSlave(stallable.port, address, log);
    const first = endOf(await appendMessages(masterStore, 'Stall', 0, 2));
    await vi.waitFor(() => expect(master.connectedSlaveCount).toBe(1));
    await expect(master.waitForReplication(first, 5_000)).resolves.toBe(ErrorCode.OK);

    stallable.stall();
    const second = endOf(await appendMessages(masterStore, 'Stall', 0, 2));
    const startedMs = Date.now();
    await expect(master.waitForReplication(second, 300)).resolves.toBe(ErrorCode.SLAVE_TIMEOUT);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
    expect(slaveStore.maxPhysicalOffset).toBe(second); // the bytes arrived; only the flush is missing

    const pending = master.waitForReplication(second, 5_000);
    stallable.resume();
    await expect(pending).resolves.toBe(ErrorCode.OK);
  });

  it('answers SLAVE_NOT_AVAILABLE at once when no slave is connected, and to waiters when the slave leaves', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir(), { flushIntervalMs: 60_000 });
    const stallable = stallableFlush(slaveStore);
    const { address, master } = await startMaster(masterStore, log);

    const lonely = endOf(await appendMessages(masterStore, 'Alone', 0, 1));
    const startedMs = Date.now();
    await expect(master.waitForReplication(lonely, 5_000)).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    expect(Date.now() - startedMs).toBeLessThan(100);

    const slave = startSlave(stallable.port, address, log);
    await vi.waitFor(() => expect(master.connectedSlaveCount).toBe(1));
    await expect(master.waitForReplication(lonely, 5_000)).resolves.toBe(ErrorCode.OK);
    stallable.stall();
    const waiting = master.waitForReplication(endOf(await appendMessages(masterStore, 'Alone', 0, 1)), 10_000);
    const closing = slave.close();
    await expect(waiting).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    stallable.resume();
    await closing;
    expect(master.connectedSlaveCount).toBe(0);
    expect(master.lag()).toEqual({ bytes: 0, ms: 0, slaves: [] });
  });

  it('answers waiting sends SLAVE_NOT_AVAILABLE when the master closes', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir(), { flushIntervalMs: 60_000 });
    const stallable = stallableFlush(slaveStore);
    const rig = await startMaster(masterStore, log);
    startSlave(stallable.port, rig.address, log);
    await vi.waitFor(() => expect(rig.master.connectedSlaveCount).toBe(1));
    stallable.stall();
    const waiting = rig.master.waitForReplication(endOf(await appendMessages(masterStore, 'Closing', 0, 1)), 10_000);
    await rig.stop();
    await expect(waiting).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    stallable.resume();
  });
});
