// SearchOffset at the broker's services over a real store, with an injected clock stamping the
// records: the first queue offset stored at or after a timestamp, for timestamps before the
// first record, between records, exactly at one, and after the last; per queue; and the edge
// checks. (The client's `from: { timestamp }` is covered in test/cluster/client-consumers.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../../common/errors.js';
import { conveyor } from '../../../../proto/index.js';
import { rejectionOf } from '../../../helpers/errors.js';
import { openTestBroker, type TestBroker } from './service-context.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const clock = { now: 1_700_000_000_000 };
const T0 = clock.now;
let sent = 0;

/** Sends `count` messages to queue `queueId` of topic 't' with the clock at `atMs`; returns their queue offsets. */
async function sendAt(broker: TestBroker, queueId: number, atMs: number, count: number): Promise<number[]> {
  clock.now = atMs;
  const messages = Array.from({ length: count }, () => conveyor.MessageInput.create({ messageId: `m-${sent++}`, body: Buffer.from('x'), bornTimestampMs: 1 }));
  const response = await broker.services.send.send(conveyor.SendRequest.create({ topic: 't', queueId, producerGroup: 'pg', messages }));
  return (response.results ?? []).map((r) => Number(r.queueOffset));
}

async function search(broker: TestBroker, timestampMs: number, queueId = 0): Promise<number> {
  const answer = await broker.services.offsets.searchOffset(conveyor.SearchOffsetRequest.create({ topic: 't', queueId, timestampMs }));
  return Number(answer.queueOffset);
}

describe('SearchOffset', () => {
  it('answers the first queue offset stored at or after the timestamp, or the end past the last', async () => {
    const broker = await openTestBroker('conveyor-search-offset-', cleanups, { clock: () => clock.now });
    expect(await sendAt(broker, 0, T0 + 1_000, 2)).toEqual([0, 1]);
    expect(await sendAt(broker, 0, T0 + 2_000, 1)).toEqual([2]);
    expect(await sendAt(broker, 0, T0 + 3_000, 2)).toEqual([3, 4]);
    expect(await sendAt(broker, 0, T0 + 5_000, 1)).toEqual([5]);

    expect(await search(broker, 0)).toBe(0);
    expect(await search(broker, T0)).toBe(0); // before the first
    expect(await search(broker, T0 + 1_000)).toBe(0); // exactly at the first (two records share it)
    expect(await search(broker, T0 + 1_001)).toBe(2); // between
    expect(await search(broker, T0 + 2_000)).toBe(2); // exactly at one
    expect(await search(broker, T0 + 2_999)).toBe(3);
    expect(await search(broker, T0 + 3_000)).toBe(3); // the first of two at that time
    expect(await search(broker, T0 + 4_000)).toBe(5); // in a gap
    expect(await search(broker, T0 + 5_000)).toBe(5); // exactly at the last
    expect(await search(broker, T0 + 5_001)).toBe(6); // after the last: the end of the queue
    expect(await search(broker, Number.MAX_SAFE_INTEGER)).toBe(6);
  });

  it('finds every record of a longer queue by its own store time, and each queue by its own records', async () => {
    const broker = await openTestBroker('conveyor-search-offset-', cleanups, { clock: () => clock.now });
    // Queue 1: 100 records, every third one 10 ms after the one before (the others share its time).
    const stamps: number[] = [];
    for (let i = 0; i < 100; i++) {
      const at = T0 + 10 * Math.floor(i / 3);
      expect(await sendAt(broker, 1, at, 1)).toEqual([i]);
      stamps.push(at);
    }
    // Queue 2 stores later than all of queue 1; queue 3 stays empty.
    await sendAt(broker, 2, T0 + 100_000, 3);
    for (let t = T0 - 5; t <= T0 + 10 * 34; t += 5) {
      const expected = stamps.findIndex((s) => s >= t);
      expect(await search(broker, t, 1), `queue 1 at T0+${t - T0}`).toBe(expected === -1 ? 100 : expected);
    }
    expect(await search(broker, T0 + 500, 2)).toBe(0);
    expect(await search(broker, T0 + 100_001, 2)).toBe(3);
    expect(await search(broker, T0, 3)).toBe(0);
  });

  it('refuses a negative timestamp and a queue outside the topic', async () => {
    const broker = await openTestBroker('conveyor-search-offset-', cleanups, { clock: () => clock.now });
    expect((await rejectionOf(search(broker, -1))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await rejectionOf(search(broker, T0, 4))).code).toBe(ErrorCode.QUEUE_NOT_FOUND);
  });
});
