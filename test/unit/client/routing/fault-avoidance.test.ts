import { describe, expect, it } from 'vitest';
import { FaultAvoidance } from '../../../../client/routing/fault-avoidance.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('fault avoidance', () => {
  it('skips a broker that failed for the isolation time, then takes it back', () => {
    const c = clock();
    const fault = new FaultAvoidance({ now: c.now, failureIsolationMs: 10_000 });
    expect(fault.isAvailable('broker-a')).toBe(true);
    fault.recordFailure('broker-a');
    expect(fault.isAvailable('broker-a')).toBe(false);
    expect(fault.isAvailable('broker-b')).toBe(true);
    expect(fault.isolatedBrokers()).toEqual(['broker-a']);
    c.advance(9_999);
    expect(fault.isAvailable('broker-a')).toBe(false);
    c.advance(1);
    expect(fault.isAvailable('broker-a')).toBe(true);
    expect(fault.isolatedBrokers()).toEqual([]);
  });

  it('skips a broker that answered slower than the threshold for a shorter while', () => {
    const c = clock();
    const fault = new FaultAvoidance({ now: c.now, slowThresholdMs: 500, slowIsolationMs: 2_000 });
    fault.recordSuccess('broker-a', 499);
    expect(fault.isAvailable('broker-a')).toBe(true);
    fault.recordSuccess('broker-a', 501);
    expect(fault.isAvailable('broker-a')).toBe(false);
    c.advance(2_000);
    expect(fault.isAvailable('broker-a')).toBe(true);
  });

  it('clears isolation when the broker answers fast again, and keeps the longer of two isolations', () => {
    const c = clock();
    const fault = new FaultAvoidance({ now: c.now, slowThresholdMs: 500, slowIsolationMs: 1_000, failureIsolationMs: 10_000 });
    fault.recordFailure('broker-a');
    fault.recordSuccess('broker-a', 600);
    c.advance(5_000);
    expect(fault.isAvailable('broker-a')).toBe(false);
    fault.recordSuccess('broker-a', 10);
    expect(fault.isAvailable('broker-a')).toBe(true);
  });
});
