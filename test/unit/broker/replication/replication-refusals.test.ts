// What master and slave say when replication cannot go on: mismatched settings, bytes gone to
// retention, a slave ahead of its master.
import { describe, expect, it, vi } from 'vitest';
import {
  appendMessages,
  capturingLogger,
  findLog,
  newDataDir,
  openStore,
  readAll,
  SEGMENT_BYTES,
  startMaster,
  slaveStoreWithAppend,
  startSlave,
  waitCaughtUp,
} from './replication-fixture.js';

const MASTER_REFUSED = 'replication stream ended with an error';
const SLAVE_REFUSED = 'replication refused; the slave needs an operator';

describe('replication refusals', () => {
  it('refuses a slave with another segment size with HANDSHAKE_MISMATCH on both sides', async () => {
    const master = capturingLogger();
    const slaveSide = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir(), { segmentBytes: 2 * SEGMENT_BYTES });
    await appendMessages(masterStore, 'T', 0, 5);
    const { address } = await startMaster(masterStore, master.log);
    const slave = startSlave(slaveStore, address, slaveSide.log, { segmentBytes: 2 * SEGMENT_BYTES });

    await vi.waitFor(() => expect(slave.status().lastError?.code).toBe('HANDSHAKE_MISMATCH'));
    expect(slave.status().lastError?.message).toContain(`segmentBytes differs: master has ${SEGMENT_BYTES}, slave 1 has ${2 * SEGMENT_BYTES}`);
    expect(findLog(master.records, MASTER_REFUSED, { code: 'HANDSHAKE_MISMATCH' })).toBeDefined();
    expect(findLog(slaveSide.records, SLAVE_REFUSED, { code: 'HANDSHAKE_MISMATCH', setting: 'segmentBytes' })).toBeDefined();
    expect(slaveStore.maxPhysicalOffset).toBe(0);
    expect(slave.connected).toBe(false);
  });

  it('refuses a slave of another broker group', async () => {
    const master = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    const { address } = await startMaster(masterStore, master.log);
    const slave = startSlave(slaveStore, address, master.log, { brokerName: 'broker-b' });
    await vi.waitFor(() => expect(slave.status().lastError?.code).toBe('HANDSHAKE_MISMATCH'));
    expect(slave.status().lastError?.message).toContain('brokerName differs: master has "broker-a", slave 1 has "broker-b"');
  });

  it('says REPLICATION_DATA_GONE on both sides when retention deleted bytes the slave still needs', async () => {
    const master = capturingLogger();
    const slaveSide = capturingLogger();
    let usedPercent = 10;
    const masterStore = await openStore(newDataDir(), { diskUsage: () => Promise.resolve({ usedPercent }) });
    const slaveDir = newDataDir();
    let slaveStore = await openStore(slaveDir);
    const { address } = await startMaster(masterStore, master.log);
    let slave = startSlave(slaveStore, address, slaveSide.log);
    await appendMessages(masterStore, 'Gone', 0, 40);
    await waitCaughtUp(slaveStore, masterStore);
    const slaveHas = slaveStore.maxPhysicalOffset;
    await slave.close();
    await slaveStore.close();

    await appendMessages(masterStore, 'Gone', 0, 400); // several more segments
    usedPercent = 80; // past the soft threshold: retention deletes the oldest segments
    const run = await masterStore.runRetention();
    expect(run.deletedSegments.length).toBeGreaterThan(1);
    expect(masterStore.minPhysicalOffset).toBeGreaterThan(slaveHas);

    slaveStore = await openStore(slaveDir);
    slave = startSlave(slaveStore, address, slaveSide.log);
    await vi.waitFor(() => expect(slave.status().lastError?.code).toBe('REPLICATION_DATA_GONE'));
    expect(slave.status().lastError?.message).toContain(`needs commit-log bytes from ${slaveHas} but this master's log now starts at ${masterStore.minPhysicalOffset}`);
    expect(findLog(master.records, MASTER_REFUSED, { code: 'REPLICATION_DATA_GONE' })).toBeDefined();
    expect(findLog(slaveSide.records, SLAVE_REFUSED, { code: 'REPLICATION_DATA_GONE', slavePhysicalOffset: String(slaveHas) })).toBeDefined();
    expect(slaveStore.maxPhysicalOffset).toBe(slaveHas);
  });

  it('starts an empty slave at the master\'s first segment when older ones are gone', async () => {
    const { log } = capturingLogger();
    let usedPercent = 10;
    const masterStore = await openStore(newDataDir(), { diskUsage: () => Promise.resolve({ usedPercent }) });
    await appendMessages(masterStore, 'Fresh', 0, 300);
    usedPercent = 80;
    await masterStore.runRetention();
    usedPercent = 10;
    const min = masterStore.minPhysicalOffset;
    expect(min).toBeGreaterThan(0);

    const slaveStore = await openStore(newDataDir());
    const { address } = await startMaster(masterStore, log);
    startSlave(slaveStore, address, log);
    await waitCaughtUp(slaveStore, masterStore);
    expect(slaveStore.minPhysicalOffset).toBe(min);
    const end = masterStore.maxPhysicalOffset;
    expect((await readAll(slaveStore, min, end)).equals(await readAll(masterStore, min, end))).toBe(true);
    expect(slaveStore.queueRange('Fresh', 0)).toEqual(masterStore.queueRange('Fresh', 0));
  });

  it('refuses a slave that holds more of the log than its master, and the slave truncates nothing', async () => {
    const master = capturingLogger();
    const masterStore = await openStore(newDataDir());
    const slaveStore = await openStore(newDataDir());
    await appendMessages(masterStore, 'Ahead', 0, 5);
    await appendMessages(slaveStore, 'Ahead', 0, 10); // as if the master lost its tail
    const slaveHas = slaveStore.maxPhysicalOffset;
    const { address } = await startMaster(masterStore, master.log);
    const slave = startSlave(slaveStore, address, master.log);
    await vi.waitFor(() => expect(slave.status().lastError?.code).toBe('HANDSHAKE_MISMATCH'));
    expect(slave.status().lastError?.message).toContain(`holds the commit log up to ${slaveHas} but this master's log ends at ${masterStore.maxPhysicalOffset}`);
    expect(slaveStore.maxPhysicalOffset).toBe(slaveHas);
  });
});

describe('replication refusals while streaming', () => {
  it('ends the stream with REPLICATION_DATA_GONE when retention deletes bytes the master has not sent yet', async () => {
    const master = capturingLogger();
    const slaveSide = capturingLogger();
    let usedPercent = 10;
    const masterStore = await openStore(newDataDir(), { diskUsage: () => Promise.resolve({ usedPercent }) });
    await appendMessages(masterStore, 'Slow', 0, 2_000); // ~1.2 MiB, ~19 segments
    const slaveStore = await openStore(newDataDir());
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appends = 0;
    const slowSlave = slaveStoreWithAppend(slaveStore, async (physicalOffset, bytes) => {
        appends += 1;
        await held;
        await slaveStore.appendCommitLogBytes(physicalOffset, bytes);
    });
    const { address } = await startMaster(masterStore, master.log, 0, { chunkBytesMax: 4_096 });
    // One append at a time: the held append keeps the rest of the log on the master.
    const slave = startSlave(slowSlave, address, slaveSide.log, { appendBytesInFlightMax: 0 });
    await vi.waitFor(() => expect(appends).toBe(1));

    usedPercent = 80;
    await masterStore.runRetention(); // up to 16 segments, far past what the master had sent
    usedPercent = 10;
    release();

    await vi.waitFor(() => expect(slave.status().lastError?.code).toBe('REPLICATION_DATA_GONE'));
    const first = findLog(master.records, MASTER_REFUSED, { code: 'REPLICATION_DATA_GONE' });
    expect(first?.err).toMatch(/^commit-log bytes from \d+ are gone; the log starts at \d+/);
    expect(slaveStore.maxPhysicalOffset).toBeLessThan(masterStore.minPhysicalOffset);
  });
});
