import { describe, expect, it } from 'vitest';
import { assignMessageIds, MESSAGE_ID_UNASSIGNED } from '../../../../common/message-id.js';
import { COALESCE_MESSAGES_MAX, COALESCE_RPCS_IN_FLIGHT_MAX, SendCoalescer } from '../../../../client/producer/send-coalescer.js';

interface Rpc<M = string> {
  messages: M[];
  answer: (results: string[]) => void;
  fail: (err: unknown) => void;
}

function recorder<M = string>(): { rpcs: Rpc<M>[]; run: (messages: M[]) => Promise<string[]> } {
  const rpcs: Rpc<M>[] = [];
  return {
    rpcs,
    run: (messages) => new Promise<string[]>((resolve, reject) => rpcs.push({ messages, answer: resolve, fail: reject })),
  };
}

describe('coalescing concurrent sends', () => {
  it('sends the sends of one tick as one batch and answers each with its own result', async () => {
    const coalescer = new SendCoalescer<string, string>();
    const { rpcs, run } = recorder();
    const sent = ['a', 'b', 'c'].map((m) => coalescer.submit('q', m, 10, run));
    await expect.poll(() => rpcs.length).toBe(1);
    expect(rpcs[0]!.messages).toEqual(['a', 'b', 'c']);
    rpcs[0]!.answer(['ra', 'rb', 'rc']);
    expect(await Promise.all(sent)).toEqual(['ra', 'rb', 'rc']);
    expect(coalescer.laneCount).toBe(0);
  });

  it('gathers sends made while a batch is in flight into the next batch', async () => {
    const coalescer = new SendCoalescer<string, string>();
    const { rpcs, run } = recorder();
    const first = coalescer.submit('q', 'a', 10, run);
    await expect.poll(() => rpcs.length).toBe(1);
    const later = [coalescer.submit('q', 'b', 10, run), coalescer.submit('q', 'c', 10, run)];
    await Promise.resolve();
    expect(rpcs.length).toBe(1);
    rpcs[0]!.answer(['ra']);
    expect(await first).toBe('ra');
    await expect.poll(() => rpcs.length).toBe(2);
    expect(rpcs[1]!.messages).toEqual(['b', 'c']);
    rpcs[1]!.answer(['rb', 'rc']);
    expect(await Promise.all(later)).toEqual(['rb', 'rc']);
  });

  it('with more RPCs allowed per lane, a send leaves at once while an earlier one is in flight', async () => {
    const coalescer = new SendCoalescer<string, string>(2);
    const { rpcs, run } = recorder();
    const first = coalescer.submit('q', 'a', 10, run);
    await expect.poll(() => rpcs.length).toBe(1);
    const second = coalescer.submit('q', 'b', 10, run);
    await expect.poll(() => rpcs.length).toBe(2);
    expect(rpcs[1]!.messages).toEqual(['b']);
    // The lane is full now: later sends gather until one of the two RPCs returns.
    const later = [coalescer.submit('q', 'c', 10, run), coalescer.submit('q', 'd', 10, run)];
    await Promise.resolve();
    await Promise.resolve();
    expect(rpcs.length).toBe(2);
    rpcs[1]!.answer(['rb']);
    expect(await second).toBe('rb');
    await expect.poll(() => rpcs.length).toBe(3);
    expect(rpcs[2]!.messages).toEqual(['c', 'd']);
    rpcs[0]!.answer(['ra']);
    rpcs[2]!.answer(['rc', 'rd']);
    expect(await first).toBe('ra');
    expect(await Promise.all(later)).toEqual(['rc', 'rd']);
    expect(coalescer.laneCount).toBe(0);
  });

  it('refuses an RPC bound per lane outside 1 … COALESCE_RPCS_IN_FLIGHT_MAX', () => {
    for (const bad of [0, -1, 1.5, COALESCE_RPCS_IN_FLIGHT_MAX + 1, Number.NaN]) {
      expect(() => new SendCoalescer<string, string>(bad)).toThrow(expect.objectContaining({ codeName: 'INVALID_ARGUMENT' }));
    }
    expect(new SendCoalescer<string, string>(COALESCE_RPCS_IN_FLIGHT_MAX).rpcsInFlightMax).toBe(COALESCE_RPCS_IN_FLIGHT_MAX);
  });

  it('keeps lanes apart and fails every message of a failed batch', async () => {
    const coalescer = new SendCoalescer<string, string>();
    const { rpcs, run } = recorder();
    const a = coalescer.submit('q1', 'a', 10, run);
    const b = coalescer.submit('q2', 'b', 10, run);
    const c = coalescer.submit('q2', 'c', 10, run);
    await expect.poll(() => rpcs.length).toBe(2);
    expect(rpcs.map((r) => r.messages)).toEqual([['a'], ['b', 'c']]);
    rpcs[1]!.fail(new Error('down'));
    rpcs[0]!.answer(['ra']);
    expect(await a).toBe('ra');
    await expect(b).rejects.toThrow('down');
    await expect(c).rejects.toThrow('down');
  });

  it('cuts a batch at the message bound', async () => {
    const coalescer = new SendCoalescer<number, number>();
    const rpcs: number[][] = [];
    const run = (messages: number[]): Promise<number[]> => {
      rpcs.push(messages);
      return Promise.resolve(messages);
    };
    const sent = Array.from({ length: COALESCE_MESSAGES_MAX + 1 }, (_, i) => coalescer.submit('q', i, 1, run));
    await Promise.all(sent);
    expect(rpcs.map((r) => r.length)).toEqual([COALESCE_MESSAGES_MAX, 1]);
  });
});

describe('message ids given as a coalesced RPC is formed', () => {
  interface Msg { messageId: string }
  const counterOf = (id: string): number => parseInt(id.slice(24), 16);

  it('gives the messages of one RPC consecutive generated ids and leaves user ids alone', async () => {
    const coalescer = new SendCoalescer<Msg, string>(1, assignMessageIds);
    const { rpcs, run } = recorder<Msg>();
    const messages: Msg[] = Array.from({ length: 12 }, (_, i) => ({ messageId: i === 5 ? 'user-5' : MESSAGE_ID_UNASSIGNED }));
    const sent = messages.map((m) => coalescer.submit('q', m, 10, run));
    expect(messages.every((m) => m.messageId === MESSAGE_ID_UNASSIGNED || m.messageId === 'user-5')).toBe(true);
    await expect.poll(() => rpcs.length).toBe(1);
    const ids = rpcs[0]!.messages.map((m) => m.messageId);
    expect(ids[5]).toBe('user-5');
    const generated = ids.filter((id) => id !== 'user-5');
    expect(generated).toHaveLength(11);
    expect(new Set(generated.map((id) => id.slice(0, 24))).size).toBeLessThanOrEqual(2); // one instance; the time part may tick once
    expect(new Set(generated.map((id) => id.slice(12, 24))).size).toBe(1);
    const counters = generated.map(counterOf);
    expect(counters).toEqual(counters.map((_, i) => (counters[0]! + i) % 0x1_0000_0000));
    rpcs[0]!.answer(ids);
    await Promise.all(sent);
  });

  it('keeps the id of a message whose RPC failed when it is sent again (a retry, maybe to another queue)', async () => {
    const coalescer = new SendCoalescer<Msg, string>(1, assignMessageIds);
    const { rpcs, run } = recorder<Msg>();
    const retried: Msg = { messageId: MESSAGE_ID_UNASSIGNED };
    const first = coalescer.submit('queue-1', retried, 10, run);
    await expect.poll(() => rpcs.length).toBe(1);
    const given = retried.messageId;
    expect(given).toMatch(/^[0-9a-f]{32}$/);
    rpcs[0]!.fail(new Error('broker gone'));
    await expect(first).rejects.toThrow('broker gone');
    const fresh: Msg = { messageId: MESSAGE_ID_UNASSIGNED };
    const again = [coalescer.submit('queue-2', retried, 10, run), coalescer.submit('queue-2', fresh, 10, run)];
    await expect.poll(() => rpcs.length).toBe(2);
    expect(rpcs[1]!.messages.map((m) => m.messageId)).toEqual([given, fresh.messageId]);
    expect(fresh.messageId).not.toBe(given);
    rpcs[1]!.answer(['a', 'b']);
    await Promise.all(again);
  });
});
