import { describe, expect, it } from 'vitest';
import { decideRegistration } from '../../../nameserver/registration-decision.js';

const V = { epoch: 11, timestampMs: 5_000, counter: 3 };

describe('decideRegistration: accept, or ask for the full table', () => {
  it('adds an unknown (or expired) broker that sends its full table', () => {
    expect(decideRegistration(undefined, { dataVersion: V, fullTopicTable: true })).toBe('new');
  });

  it('asks for the full table on a light heartbeat from a broker it does not hold (restarted nameserver, expired broker)', () => {
    expect(decideRegistration(undefined, { dataVersion: V, fullTopicTable: false })).toBe('topics-wanted');
  });

  it('refreshes liveness on a light heartbeat at the version it holds', () => {
    expect(decideRegistration({ ...V }, { dataVersion: V, fullTopicTable: false })).toBe('heartbeat');
  });

  it('counts a full table at the version it holds as a heartbeat', () => {
    expect(decideRegistration({ ...V }, { dataVersion: V, fullTopicTable: true })).toBe('heartbeat');
  });

  it('replaces the table on a full registration at another version, newer or older', () => {
    expect(decideRegistration(V, { dataVersion: { ...V, counter: 4 }, fullTopicTable: true })).toBe('topics-changed');
    expect(decideRegistration(V, { dataVersion: { ...V, counter: 1 }, fullTopicTable: true })).toBe('topics-changed');
  });

  it('asks for the full table on a light heartbeat at another version', () => {
    expect(decideRegistration(V, { dataVersion: { ...V, counter: 4 }, fullTopicTable: false })).toBe('topics-wanted');
    expect(decideRegistration(V, { dataVersion: { ...V, timestampMs: 6_000 }, fullTopicTable: false })).toBe('topics-wanted');
  });

  it('tells a restarted broker apart by its epoch, even with the same counter and timestamp', () => {
    const restarted = { ...V, epoch: 12 };
    expect(decideRegistration(V, { dataVersion: restarted, fullTopicTable: false })).toBe('topics-wanted');
    expect(decideRegistration(V, { dataVersion: restarted, fullTopicTable: true })).toBe('topics-changed');
  });
});
