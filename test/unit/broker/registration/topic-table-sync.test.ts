import { describe, expect, it } from 'vitest';
import { TopicTableSync } from '../../../../broker/registration/topic-table-sync.js';
import { sameDataVersion } from '../../../../common/data-version.js';

const A = '10.0.0.1:9876';
const B = '10.0.0.2:9876';
const C = '10.0.0.3:9876';

function setup(epoch = 7): { sync: TopicTableSync; clock: { now: number } } {
  const clock = { now: 1_000 };
  return { sync: new TopicTableSync({ epoch, clock: () => clock.now }), clock };
}

/** One registration with `nameserver` as the shell makes it: plan, send, answer. */
function exchange(sync: TopicTableSync, nameserver: string, topicTableWanted = false): { kind: 'full' | 'light'; after: 'done' | 'send-full' } {
  const kind = sync.plan(nameserver);
  return { kind, after: sync.answered(nameserver, { ...sync.version }, topicTableWanted) };
}

describe('TopicTableSync: full table or light heartbeat', () => {
  it('starts at counter 0 of its epoch at the start time, and sends the full table first', () => {
    const { sync } = setup(42);
    expect(sync.version).toEqual({ epoch: 42, timestampMs: 1_000, counter: 0 });
    expect(sync.plan(A)).toBe('full');
  });

  it('sends light heartbeats once a nameserver acknowledged the current version', () => {
    const { sync } = setup();
    expect(exchange(sync, A)).toEqual({ kind: 'full', after: 'done' });
    expect(exchange(sync, A)).toEqual({ kind: 'light', after: 'done' });
    expect(exchange(sync, A)).toEqual({ kind: 'light', after: 'done' });
  });

  it('sends the full table again after a topic change, with the next counter at the time of the change', () => {
    const { sync, clock } = setup();
    exchange(sync, A);
    clock.now = 5_000;
    expect(sync.changed()).toEqual({ epoch: 7, timestampMs: 5_000, counter: 1 });
    expect(exchange(sync, A)).toEqual({ kind: 'full', after: 'done' });
    expect(sync.plan(A)).toBe('light');
  });

  it('sends the full table at once when a restarted nameserver asks for it', () => {
    const { sync } = setup();
    exchange(sync, A);
    // The nameserver restarted: it answers the light heartbeat with topic_table_wanted.
    expect(exchange(sync, A, true)).toEqual({ kind: 'light', after: 'send-full' });
    expect(sync.plan(A)).toBe('full');
    expect(exchange(sync, A)).toEqual({ kind: 'full', after: 'done' });
    expect(sync.plan(A)).toBe('light');
  });

  it('sends the full table when a nameserver that expired the broker asks, even though the version did not change', () => {
    const { sync } = setup();
    exchange(sync, A);
    const before = { ...sync.version };
    expect(exchange(sync, A, true).after).toBe('send-full');
    expect(sync.version).toEqual(before);
    expect(sync.plan(A)).toBe('full');
  });

  it('sends the full table after a failed call: the nameserver may have restarted meanwhile', () => {
    const { sync } = setup();
    exchange(sync, A);
    sync.failed(A);
    expect(sync.plan(A)).toBe('full');
  });

  it('a version answered after the table changed again is not taken as the current one', () => {
    const { sync } = setup();
    const sent = { ...sync.version };
    expect(sync.plan(A)).toBe('full');
    sync.changed(); // while the call was in flight
    sync.answered(A, sent, false);
    expect(sync.plan(A)).toBe('full');
  });

  it('keeps each nameserver apart: one asked, one failed, one up to date, one forgotten', () => {
    const { sync } = setup();
    for (const ns of [A, B, C]) exchange(sync, ns);
    expect(exchange(sync, A, true).after).toBe('send-full');
    sync.failed(B);
    expect([sync.plan(A), sync.plan(B), sync.plan(C)]).toEqual(['full', 'full', 'light']);
    sync.forget(C);
    expect(sync.plan(C)).toBe('full');
    // A change reaches every nameserver in full, whatever state each was in.
    for (const ns of [A, B, C]) exchange(sync, ns);
    sync.changed();
    expect([sync.plan(A), sync.plan(B), sync.plan(C)]).toEqual(['full', 'full', 'full']);
  });

  it('a restarted broker never repeats a version: same clock and counter, a new epoch', () => {
    const first = setup(1).sync;
    const restarted = setup(2).sync;
    expect(first.version.counter).toBe(restarted.version.counter);
    expect(first.version.timestampMs).toBe(restarted.version.timestampMs);
    expect(sameDataVersion(first.version, restarted.version)).toBe(false);
  });
});
