import { describe, expect, it } from 'vitest';
import { CONSUMERS_PER_GROUP_MAX, ConsumerGroupTable } from '../../../../broker/consumers/consumer-groups.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';
import { conveyor } from '../../../../proto/index.js';

const member = (clientId: string) => ({ clientId, topics: ['t'], mode: conveyor.ConsumeMode.CLUSTERING });

describe('the consumer group table', () => {
  it('lists live members of a group sorted by client id', () => {
    const table = new ConsumerGroupTable({ expiryMs: 1_000 });
    table.heartbeat('g', member('c'), 0);
    table.heartbeat('g', member('a'), 0);
    table.heartbeat('g', member('b'), 0);
    table.heartbeat('other', member('z'), 0);
    expect(table.list('g', 10)).toEqual(['a', 'b', 'c']);
    expect(table.list('other', 10)).toEqual(['z']);
    expect(table.list('nobody', 10)).toEqual([]);
  });

  it('drops a member whose last heartbeat is expiryMs old', () => {
    const table = new ConsumerGroupTable({ expiryMs: 1_000 });
    table.heartbeat('g', member('a'), 0);
    table.heartbeat('g', member('b'), 500);
    expect(table.list('g', 999)).toEqual(['a', 'b']);
    expect(table.list('g', 1_000)).toEqual(['b']);
    expect(table.list('g', 1_500)).toEqual([]);
    expect(table.groupNames(1_500)).toEqual([]);
  });

  it('keeps a member alive with each heartbeat', () => {
    const table = new ConsumerGroupTable({ expiryMs: 1_000 });
    for (let t = 0; t <= 5_000; t += 900) table.heartbeat('g', member('a'), t);
    expect(table.list('g', 5_000)).toEqual(['a']);
  });

  it('removes a member at once on unregister', () => {
    const table = new ConsumerGroupTable({ expiryMs: 60_000 });
    table.heartbeat('g', member('a'), 0);
    table.heartbeat('g', member('b'), 0);
    expect(table.unregister('g', 'a')).toBe(true);
    expect(table.unregister('g', 'a')).toBe(false);
    expect(table.list('g', 1)).toEqual(['b']);
  });

  it('keeps the details of the latest heartbeat', () => {
    const table = new ConsumerGroupTable({ expiryMs: 60_000 });
    table.heartbeat('g', member('a'), 0);
    table.heartbeat('g', { clientId: 'a', topics: ['x', 'y'], mode: conveyor.ConsumeMode.BROADCASTING }, 5);
    expect(table.members('g', 6)).toEqual([{ clientId: 'a', topics: ['x', 'y'], mode: conveyor.ConsumeMode.BROADCASTING, lastHeartbeatMs: 5 }]);
  });

  it('refuses a new member past the per-group bound, but takes it once others expired', () => {
    const table = new ConsumerGroupTable({ expiryMs: 1_000 });
    for (let i = 0; i < CONSUMERS_PER_GROUP_MAX; i++) table.heartbeat('g', member(`c${i}`), 0);
    let caught: unknown;
    try {
      table.heartbeat('g', member('late'), 10);
    } catch (err) {
      caught = err;
    }
    expect(isConveyorError(caught, ErrorCode.SERVICE_UNAVAILABLE)).toBe(true);
    table.heartbeat('g', member('c0'), 10);
    table.heartbeat('g', member('late'), 1_000);
    expect(table.list('g', 1_000)).toEqual(['c0', 'late']);
  });
});
