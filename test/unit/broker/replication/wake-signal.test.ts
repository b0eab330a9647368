import { describe, expect, it } from 'vitest';
import { WakeSignal } from '../../../../broker/replication/wake-signal.js';

describe('wake signal', () => {
  it('wakes a waiter at the next notify', async () => {
    const signal = new WakeSignal();
    const woken = signal.wait(signal.current, 5_000);
    signal.notify();
    await expect(woken).resolves.toBe(true);
  });

  it('does not miss a notify that came between reading the version and waiting', async () => {
    const signal = new WakeSignal();
    const since = signal.current;
    signal.notify();
    await expect(signal.wait(since, 5_000)).resolves.toBe(true);
  });

  it('times out without a notify and forgets the waiter', async () => {
    const signal = new WakeSignal();
    await expect(signal.wait(signal.current, 10)).resolves.toBe(false);
    // A later notify finds no stale waiter to call (nothing accumulates while idle).
    expect((signal as unknown as { waiters: Set<unknown> }).waiters.size).toBe(0);
  });
});
