import { describe, expect, it } from 'vitest';
import { LongPollTable, type Waiter } from '../../../../broker/consumers/long-poll.js';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';

function waiter(topic: string, queueId: number, queueOffset: number, woken: string[], name: string): Waiter {
  return { topic, queueId, queueOffset, wake: () => woken.push(name) };
}

describe('the long-poll table', () => {
  it('wakes the waiters of a queue once its max offset passes their offset', () => {
    const table = new LongPollTable();
    const woken: string[] = [];
    table.add(waiter('t', 0, 5, woken, 'at5'));
    table.add(waiter('t', 0, 7, woken, 'at7'));
    expect(table.notify('t', 0, 5)).toBe(0);
    expect(table.notify('t', 0, 6)).toBe(1);
    expect(woken).toEqual(['at5']);
    expect(table.size).toBe(1);
    expect(table.notify('t', 0, 8)).toBe(1);
    expect(woken).toEqual(['at5', 'at7']);
    expect(table.size).toBe(0);
  });

  it('does not wake waiters of another queue or topic', () => {
    const table = new LongPollTable();
    const woken: string[] = [];
    table.add(waiter('t', 0, 0, woken, 'a'));
    table.notify('t', 1, 10);
    table.notify('u', 0, 10);
    expect(woken).toEqual([]);
    expect(table.size).toBe(1);
  });

  it('does not wake a removed (cancelled or timed-out) waiter', () => {
    const table = new LongPollTable();
    const woken: string[] = [];
    const handle = table.add(waiter('t', 0, 0, woken, 'a'));
    expect(table.remove(handle)).toBe(true);
    expect(table.remove(handle)).toBe(false);
    table.notify('t', 0, 10);
    expect(woken).toEqual([]);
    expect(table.size).toBe(0);
  });

  it('wakes a waiter once only', () => {
    const table = new LongPollTable();
    const woken: string[] = [];
    const handle = table.add(waiter('t', 0, 0, woken, 'a'));
    table.notify('t', 0, 1);
    table.notify('t', 0, 2);
    expect(woken).toEqual(['a']);
    expect(table.remove(handle)).toBe(false);
  });

  it('refuses waiters past the per-queue and total bounds with SERVICE_UNAVAILABLE', () => {
    const table = new LongPollTable({ waitersMax: 3, waitersPerQueueMax: 2 });
    const woken: string[] = [];
    table.add(waiter('t', 0, 0, woken, 'a'));
    table.add(waiter('t', 0, 0, woken, 'b'));
    const refuse = (w: Waiter): unknown => {
      try {
        table.add(w);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(isConveyorError(refuse(waiter('t', 0, 0, woken, 'c')), ErrorCode.SERVICE_UNAVAILABLE)).toBe(true);
    table.add(waiter('t', 1, 0, woken, 'd'));
    expect(isConveyorError(refuse(waiter('t', 2, 0, woken, 'e')), ErrorCode.SERVICE_UNAVAILABLE)).toBe(true);
    expect(table.size).toBe(3);
    table.notify('t', 0, 1);
    table.add(waiter('t', 2, 0, woken, 'f'));
    expect(table.size).toBe(2);
  });

  it('wakes everyone on wakeAll (shutdown)', () => {
    const table = new LongPollTable();
    const woken: string[] = [];
    table.add(waiter('t', 0, 0, woken, 'a'));
    table.add(waiter('u', 3, 9, woken, 'b'));
    expect(table.wakeAll()).toBe(2);
    expect(woken.sort()).toEqual(['a', 'b']);
    expect(table.size).toBe(0);
  });
});
