import { describe, expect, it } from 'vitest';
import { WorkBudget, slotTimeMs, slotsDue } from '../../../../tools/bench/budget.js';
import { decodeE2eBody, encodeE2eBody } from '../../../../tools/bench/e2e-body.js';

describe('WorkBudget', () => {
  it('hands out exactly --count slots across claims, the last one partial', () => {
    let now = 0;
    const budget = new WorkBudget({ kind: 'count', count: 100, timeoutMs: 1_000 }, () => now);
    const grants = [budget.claim(64), budget.claim(64), budget.claim(64)];
    expect(grants).toEqual([64, 36, 0]);
    expect(budget.claimedCount).toBe(100);
    expect(budget.reason).toBe('count');
    expect(budget.isCountReached(100)).toBe(true);
  });

  it('stops a count run at its timeout and says so', () => {
    let now = 0;
    const budget = new WorkBudget({ kind: 'count', count: 1_000_000, timeoutMs: 5_000 }, () => now);
    expect(budget.claim(10)).toBe(10);
    now = 5_000;
    expect(budget.claim(10)).toBe(0);
    expect(budget.reason).toBe('timeout');
  });

  it('hands out slots until the duration is over', () => {
    let now = 1_000;
    const budget = new WorkBudget({ kind: 'duration', durationMs: 2_000 }, () => now);
    expect(budget.claim(7)).toBe(7);
    now = 2_999;
    expect(budget.stopped).toBe(false);
    expect(budget.remainingMs()).toBe(1);
    now = 3_000;
    expect(budget.claim(7)).toBe(0);
    expect(budget.reason).toBe('duration');
  });

  it('keeps the first stop reason', () => {
    let now = 0;
    const budget = new WorkBudget({ kind: 'duration', durationMs: 10 }, () => now);
    budget.stop('interrupted');
    now = 20;
    expect(budget.stopped).toBe(true);
    budget.stop('idle');
    expect(budget.reason).toBe('interrupted');
  });
});

describe('e2e pacer', () => {
  it('makes the first send due at once and then one per 1/rate', () => {
    expect(slotsDue(0, 2_000, 0)).toBe(1);
    expect(slotsDue(0.4, 2_000, 1)).toBe(0);
    expect(slotsDue(0.5, 2_000, 1)).toBe(1);
    expect(slotsDue(10, 2_000, 1)).toBe(20);
    expect(slotsDue(1_000, 2_000, 0)).toBe(2_001);
  });

  it('never asks for a negative number of sends', () => {
    expect(slotsDue(1, 1_000, 50)).toBe(0);
    expect(slotsDue(-5, 1_000, 0)).toBe(0);
  });

  it('places slot i at i/rate seconds', () => {
    expect(slotTimeMs(0, 2_000)).toBe(0);
    expect(slotTimeMs(3, 2_000)).toBe(1.5);
  });
});

describe('e2e body', () => {
  const token = Buffer.from('0123456789abcdef', 'hex');

  it('carries send time, sequence and phase through encode and decode', () => {
    const body = encodeE2eBody(1024, token, { sentAtMs: 1_790_000_000_123.456, sequence: 4_000_000_001, phase: 'measured' });
    expect(body.byteLength).toBe(1024);
    expect(decodeE2eBody(body, token)).toEqual({ sentAtMs: 1_790_000_000_123.456, sequence: 4_000_000_001, phase: 'measured' });
  });

  it('ignores messages of another run and bodies too short to be e2e', () => {
    const body = encodeE2eBody(64, token, { sentAtMs: 1, sequence: 1, phase: 'warmup' });
    expect(decodeE2eBody(body, Buffer.alloc(8))).toBeNull();
    expect(decodeE2eBody(Buffer.alloc(10), token)).toBeNull();
    expect(decodeE2eBody(body, token)?.phase).toBe('warmup');
  });

  it('tells the three phases apart: join check, warm-up at rate, measured', () => {
    for (const phase of ['join', 'warmup', 'measured'] as const) expect(decodeE2eBody(encodeE2eBody(64, token, { sentAtMs: 1, sequence: 7, phase }), token)?.phase).toBe(phase);
  });
});
