import { describe, expect, it } from 'vitest';
import { ReplicationProgress, type ReplicationEvent } from '../../../../broker/replication/replication-progress.js';
import { SyncWaiters } from '../../../../broker/replication/sync-waiters.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';

function setup(options: { waitersMax?: number; slavesMax?: number } = {}) {
  let now = 10_000;
  const progress = new ReplicationProgress({
    clock: () => now,
    inSyncLagBytesMax: 1_000,
    inSyncReportAgeMsMax: 3_000,
    ...options,
  });
  return {
    progress,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Records how a promise settled, so a test can see "not yet" as well as the result. */
function track<T>(promise: Promise<T>): { value: T | undefined } {
  const box: { value: T | undefined } = { value: undefined };
  void promise.then((v) => {
    box.value = v;
  });
  return box;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('replication progress: sync waiters', () => {
  it('answers SLAVE_NOT_AVAILABLE at once when no slave is connected', async () => {
    const { progress } = setup();
    progress.masterAdvanced(100);
    await expect(progress.waitFor(100, 1_000)).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    expect(progress.waiterCount).toBe(0);
  });

  it('answers OK at once when a slave already has the offset', async () => {
    const { progress } = setup();
    progress.masterAdvanced(100);
    progress.slaveConnected(1, 'a:1', 100);
    await expect(progress.waitFor(100, 1_000)).resolves.toBe(ErrorCode.OK);
  });

  it('answers OK when a report covers the offset, and not before', async () => {
    const { progress } = setup();
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(300);
    const first = track(progress.waitFor(100, 1_000));
    const second = track(progress.waitFor(300, 1_000));
    progress.slaveReported(1, 99);
    await flush();
    expect(first.value).toBeUndefined();
    progress.slaveReported(1, 150);
    await flush();
    expect(first.value).toBe(ErrorCode.OK);
    expect(second.value).toBeUndefined();
    progress.slaveReported(1, 300);
    await flush();
    expect(second.value).toBe(ErrorCode.OK);
    expect(progress.waiterCount).toBe(0);
  });

  it('answers SLAVE_TIMEOUT once the deadline passes without a covering report', async () => {
    const { progress, advance } = setup();
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(100);
    const waiter = track(progress.waitFor(100, 500));
    expect(progress.nextDeadlineMs()).toBe(10_500);
    advance(499);
    expect(progress.expire()).toBe(0);
    advance(1);
    expect(progress.expire()).toBe(1);
    await flush();
    expect(waiter.value).toBe(ErrorCode.SLAVE_TIMEOUT);
    expect(progress.nextDeadlineMs()).toBeUndefined();
  });

  it('answers SLAVE_NOT_AVAILABLE to every waiter when the last slave disconnects', async () => {
    const { progress } = setup();
    progress.slaveConnected(1, 'a:1', 0);
    progress.slaveConnected(2, 'b:1', 0);
    progress.masterAdvanced(100);
    const waiter = track(progress.waitFor(100, 5_000));
    progress.slaveDisconnected(1);
    await flush();
    expect(waiter.value).toBeUndefined();
    progress.slaveDisconnected(2);
    await flush();
    expect(waiter.value).toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
  });

  it('answers SLAVE_NOT_AVAILABLE at once when the only slave lags past the byte bound', async () => {
    const { progress } = setup();
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(1_001);
    expect(progress.isInSync(1)).toBe(false);
    await expect(progress.waitFor(1_001, 1_000)).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    progress.slaveReported(1, 1);
    expect(progress.isInSync(1)).toBe(true);
  });

  it('treats a slave that stopped reporting as out of sync', async () => {
    const { progress, advance } = setup();
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(10);
    advance(3_000);
    expect(progress.isInSync(1)).toBe(true);
    advance(1);
    expect(progress.isInSync(1)).toBe(false);
    await expect(progress.waitFor(10, 1_000)).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
  });

  it('answers SLAVE_TIMEOUT at once when the waiter table is full, and counts it', async () => {
    const { progress } = setup({ waitersMax: 2 });
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(100);
    const a = track(progress.waitFor(10, 1_000));
    const b = track(progress.waitFor(20, 1_000));
    await expect(progress.waitFor(30, 1_000)).resolves.toBe(ErrorCode.SLAVE_TIMEOUT);
    expect(progress.waitersRejected).toBe(1);
    progress.slaveReported(1, 20);
    await flush();
    expect([a.value, b.value]).toEqual([ErrorCode.OK, ErrorCode.OK]);
    await expect(progress.waitFor(100, 0)).resolves.toBe(ErrorCode.SLAVE_TIMEOUT);
  });

  it('answers SLAVE_NOT_AVAILABLE to waiters on close', async () => {
    const { progress } = setup();
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(100);
    const waiter = progress.waitFor(100, 1_000);
    progress.close();
    await expect(waiter).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
  });
});

describe('replication progress: slaves and lag', () => {
  it('refuses a report that goes backwards or past the master', () => {
    const { progress } = setup();
    progress.masterAdvanced(100);
    progress.slaveConnected(1, 'a:1', 50);
    expect(() => progress.slaveReported(1, 40)).toThrow(ConveyorError);
    expect(() => progress.slaveReported(1, 101)).toThrow(ConveyorError);
    progress.slaveReported(1, 100);
  });

  it('refuses more slaves than the limit but lets a known slave reconnect', () => {
    const { progress } = setup({ slavesMax: 1 });
    progress.slaveConnected(1, 'a:1', 0);
    progress.slaveConnected(1, 'a:2', 0);
    expect(() => progress.slaveConnected(2, 'b:1', 0)).toThrow(expect.objectContaining({ code: ErrorCode.SERVICE_UNAVAILABLE }));
  });

  it('reports the worst slave in bytes and milliseconds', () => {
    const { progress, advance } = setup();
    progress.masterAdvanced(100);
    progress.slaveConnected(1, 'a:1', 100);
    progress.slaveConnected(2, 'b:1', 40);
    advance(1_000);
    progress.masterAdvanced(300);
    advance(250);
    const lag = progress.lag();
    expect(lag.bytes).toBe(260);
    expect(lag.ms).toBe(1_250);
    expect(lag.slaves).toEqual([
      expect.objectContaining({ brokerId: 1, lagBytes: 200, lagMs: 250, inSync: true, lastReportAgeMs: 1_250 }),
      expect.objectContaining({ brokerId: 2, lagBytes: 260, lagMs: 1_250, inSync: true }),
    ]);
  });

  it('reports no lag and no slaves when none is connected', () => {
    const { progress } = setup();
    progress.masterAdvanced(100);
    expect(progress.lag()).toEqual({ bytes: 0, ms: 0, slaves: [] });
  });
});

describe('replication progress: events', () => {
  function withEvents() {
    let now = 10_000;
    const events: ReplicationEvent[] = [];
    const progress = new ReplicationProgress({ clock: () => now, inSyncLagBytesMax: 1_000, inSyncReportAgeMsMax: 3_000, onEvent: (e) => events.push(e) });
    return { progress, events, advance: (ms: number) => (now += ms) };
  }

  it('reports a slave that connects caught up as in sync, once', () => {
    const { progress, events } = withEvents();
    progress.masterAdvanced(100);
    progress.slaveConnected(1, 'a:1', 100);
    progress.slaveReported(1, 100);
    expect(progress.isInSync(1)).toBe(true);
    expect(events).toEqual([{ kind: 'in-sync', brokerId: 1, lagBytes: 0, lastReportAgeMs: 0 }]);
  });

  it('reports a catching-up slave in sync only once it is within the lag bound', () => {
    const { progress, events } = withEvents();
    progress.masterAdvanced(5_000);
    progress.slaveConnected(1, 'a:1', 0);
    expect(events).toEqual([]);
    progress.slaveReported(1, 3_000);
    expect(events).toEqual([]);
    progress.slaveReported(1, 4_500);
    expect(events).toEqual([{ kind: 'in-sync', brokerId: 1, lagBytes: 500, lastReportAgeMs: 0 }]);
  });

  it('reports out of sync with the reason when reports stop, and in sync again when one comes', () => {
    const { progress, events, advance } = withEvents();
    progress.slaveConnected(1, 'a:1', 0);
    advance(3_001);
    expect(progress.isInSync(1)).toBe(false);
    expect(progress.isInSync(1)).toBe(false);
    progress.slaveReported(1, 0);
    expect(events.map((e) => e.kind)).toEqual(['in-sync', 'out-of-sync', 'in-sync']);
    expect(events[1]).toEqual({ kind: 'out-of-sync', brokerId: 1, lagBytes: 0, lastReportAgeMs: 3_001, reason: 'report-age' });
  });

  it('reports a slave that falls behind by more than the lag bound as out of sync because of lag', () => {
    const { progress, events } = withEvents();
    progress.slaveConnected(1, 'a:1', 0);
    progress.masterAdvanced(1_001);
    expect(progress.lag().slaves[0]?.inSync).toBe(false);
    expect(events.at(-1)).toEqual({ kind: 'out-of-sync', brokerId: 1, lagBytes: 1_001, lastReportAgeMs: 0, reason: 'lag' });
  });

  it('reports one start and one end for a run of SLAVE_NOT_AVAILABLE answers, with their count', async () => {
    const { progress, events } = withEvents();
    progress.masterAdvanced(100);
    for (let i = 0; i < 3; i++) await expect(progress.waitFor(100, 1_000)).resolves.toBe(ErrorCode.SLAVE_NOT_AVAILABLE);
    expect(events).toEqual([{ kind: 'not-available-started', connectedSlaves: 0 }]);
    progress.slaveConnected(1, 'a:1', 50);
    const waiting = progress.waitFor(100, 1_000);
    expect(events.slice(1)).toEqual([{ kind: 'in-sync', brokerId: 1, lagBytes: 50, lastReportAgeMs: 0 }, { kind: 'not-available-ended', answered: 3 }]);
    progress.slaveReported(1, 100);
    await expect(waiting).resolves.toBe(ErrorCode.OK);
  });
});

describe('sync waiter table', () => {
  it('settles out-of-order offsets and deadlines correctly', async () => {
    const waiters = new SyncWaiters<string>(10);
    const late = track(waiters.add(300, 50));
    const early = track(waiters.add(100, 500));
    const middle = track(waiters.add(200, 100));
    expect(waiters.nextDeadlineMs()).toBe(50);
    expect(waiters.settleUpTo(150, 'ok')).toBe(1);
    expect(waiters.expire(100, 'timeout')).toBe(2);
    await flush();
    expect([early.value, middle.value, late.value]).toEqual(['ok', 'timeout', 'timeout']);
    expect(waiters.size).toBe(0);
    expect(waiters.nextDeadlineMs()).toBeUndefined();
  });

  it('drops waiters settled by offset from the deadline order when asked for the next deadline', async () => {
    const waiters = new SyncWaiters<string>(1_000);
    // The e2e pattern: each sync send waits, then its slave report settles it by offset.
    for (let i = 1; i <= 100; i += 1) {
      void waiters.add(i, 1_000 + i);
      expect(waiters.nextDeadlineMs()).toBe(1_000 + i);
      waiters.settleUpTo(i, 'ok');
    }
    // Without the drop, up to 2 × max(live, 64) = 128 settled entries stay in front and every
    // nextDeadlineMs() steps over them.
    expect(waiters.nextDeadlineMs()).toBeUndefined();
    expect(waiters.deadlineEntries).toBe(0);
    const pending = track(waiters.add(500, 2_000));
    expect(waiters.nextDeadlineMs()).toBe(2_000);
    expect(waiters.expire(2_000, 'timeout')).toBe(1);
    await flush();
    expect(pending.value).toBe('timeout');
  });

  it('never settles a waiter twice', async () => {
    const waiters = new SyncWaiters<string>(10);
    const results: string[] = [];
    void waiters.add(100, 100).then((r) => results.push(r));
    waiters.settleUpTo(100, 'ok');
    waiters.expire(1_000, 'timeout');
    waiters.settleAll('gone');
    await flush();
    expect(results).toEqual(['ok']);
  });

  it('stays bounded when many waiters time out while acknowledgements stall', () => {
    const waiters = new SyncWaiters<string>(1_000);
    for (let i = 0; i < 10_000; i += 1) {
      void waiters.add(i, i);
      waiters.expire(i, 'timeout');
    }
    expect(waiters.size).toBe(0);
    // Internal arrays are compacted: adding and settling one more still works and is cheap.
    void waiters.add(20_000, 20_000);
    expect(waiters.settleUpTo(20_000, 'ok')).toBe(1);
  });
});
