import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsumeDispatcher, retryDelayMs } from '../../../../client/consumer/consume-dispatcher.js';
import { LocalOffsetStore } from '../../../../client/consumer/local-offset-store.js';
import type { Message } from '../../../../client/message.js';
import { ProcessQueue } from '../../../../client/consumer/process-queue.js';
import { inOrderFrom } from '../../../../client/consumer/queue-puller.js';
import { matchesTag, parseTagExpression } from '../../../../client/consumer/tag-expression.js';
import { ErrorCode } from '../../../../common/errors.js';
import { silentLogger } from '../../../../common/logging.js';
import { tempDir } from '../../../helpers/processes.js';

const queue = { topic: 't', brokerName: 'broker-a', queueId: 0 };

function message(queueOffset: number): Message {
  return { topic: 't', brokerName: 'broker-a', queueId: 0, queueOffset, physicalOffset: 0, messageId: `m${queueOffset}`, keys: [], tag: '', properties: {}, body: Buffer.from(`b${queueOffset}`), bornTimestampMs: 0, storeTimestampMs: 0, flags: 0 };
}

describe('tag expressions', () => {
  it('match everything for * or empty, and listed tags for a || b', () => {
    expect(matchesTag(parseTagExpression(undefined), 'x')).toBe(true);
    expect(matchesTag(parseTagExpression(''), '')).toBe(true);
    const f = parseTagExpression(' a ||b ');
    expect(f.expression).toBe('a || b');
    expect(matchesTag(f, 'a')).toBe(true);
    expect(matchesTag(f, 'c')).toBe(false);
    expect(matchesTag(f, '')).toBe(false);
  });

  it('refuse malformed expressions with INVALID_ARGUMENT', () => {
    for (const bad of ['a ||', '|| b', 'a | b', 'a b']) expect(() => parseTagExpression(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});

describe('consume dispatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('runs no more handlers at once than its concurrency, and every message once', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const dispatcher = new ConsumeDispatcher({
      concurrency: 3,
      batchSize: 1,
      retries: 0,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 1,
      log: silentLogger(),
      handle: async ([m]) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        seen.push(m!.queueOffset);
        running--;
      },
    });
    const pq = new ProcessQueue(queue, 0, 100);
    const offsets = [...Array(30).keys()];
    pq.received(offsets, 30);
    dispatcher.submit(pq, offsets.map(message));
    await vi.waitFor(() => expect(seen).toHaveLength(30));
    await dispatcher.whenIdle();
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(offsets);
    expect(pq.committable()).toBe(30);
  });

  it('retries a failing handler after growing delays and holds the offset until it succeeds', async () => {
    vi.useFakeTimers();
    let attempts = 0;
    const dispatcher = new ConsumeDispatcher({
      concurrency: 1,
      batchSize: 1,
      retries: 5,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 1_000,
      log: silentLogger(),
      handle: async () => {
        attempts++;
        if (attempts < 3) throw new Error('not yet');
      },
    });
    const pq = new ProcessQueue(queue, 0, 10);
    pq.received([0], 1);
    dispatcher.submit(pq, [message(0)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toBe(1);
    expect(pq.committable()).toBe(0);
    await vi.advanceTimersByTimeAsync(99);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toBe(3);
    expect(pq.committable()).toBe(1);
  });

  it('gives a message up after its last retry so the queue goes on', async () => {
    const dispatcher = new ConsumeDispatcher({ concurrency: 1, batchSize: 2, retries: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 1, log: silentLogger(), handle: async () => { throw new Error('always'); } });
    const pq = new ProcessQueue(queue, 0, 10);
    pq.received([0, 1], 2);
    dispatcher.submit(pq, [message(0), message(1)]);
    await vi.waitFor(() => expect(pq.committable()).toBe(2));
    expect(dispatcher.stats.givenUp).toBe(2);
  });

  it('skips messages of a dropped queue and drops everything waiting when stopped', async () => {
    const handled: number[] = [];
    const dispatcher = new ConsumeDispatcher({ concurrency: 1, batchSize: 1, retries: 0, retryBaseDelayMs: 1, retryMaxDelayMs: 1, log: silentLogger(), handle: async ([m]) => { handled.push(m!.queueOffset); } });
    const pq = new ProcessQueue(queue, 0, 10);
    pq.received([0, 1], 2);
    pq.drop();
    dispatcher.submit(pq, [message(0), message(1)]);
    await dispatcher.whenIdle();
    expect(handled).toEqual([]);
    expect(pq.committable()).toBe(0);
  });

  it('keeps no reference to the messages of a task that has run', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const dispatcher = new ConsumeDispatcher({ concurrency: 1, batchSize: 2, retries: 0, retryBaseDelayMs: 1, retryMaxDelayMs: 1, log: silentLogger(), handle: async () => undefined });
    const pq = new ProcessQueue(queue, 0, 100);
    const submitted = (): WeakRef<Message> => {
      const messages = [message(0), message(1)];
      pq.received([0, 1], 2);
      dispatcher.submit(pq, messages);
      return new WeakRef(messages[0]!);
    };
    const handled = submitted();
    await dispatcher.whenIdle();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(pq.committable()).toBe(2);
    expect(handled.deref()).toBeUndefined();
  });

  it('doubles the retry delay up to its cap', () => {
    expect([1, 2, 3, 4, 10].map((a) => retryDelayMs(a, 1_000, 5_000))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });
});

describe('pulled messages', () => {
  it('are taken as they are when in order from the asked offset, and filtered and sorted otherwise', () => {
    const inOrder = [message(5), message(6), message(8)];
    expect(inOrderFrom(inOrder, 5)).toBe(inOrder);
    expect(inOrderFrom([], 5)).toEqual([]);
    expect(inOrderFrom([message(7), message(4), message(6), message(5)], 5).map((m) => m.queueOffset)).toEqual([5, 6, 7]);
    expect(inOrderFrom([message(5), message(5)], 5).map((m) => m.queueOffset)).toEqual([5, 5]);
  });
});

describe('local offset store', () => {
  const dir = tempDir();

  it('keeps offsets in a JSON file that a new store reads back', async () => {
    const store = new LocalOffsetStore('g1', dir);
    expect(await store.read(queue)).toBeUndefined();
    await store.write(queue, 42);
    await store.flush();
    const content = JSON.parse(readFileSync(join(dir, 'g1.json'), 'utf8'));
    expect(content).toEqual({ version: 1, group: 'g1', offsets: { 't@broker-a#0': 42 } });
    expect(await new LocalOffsetStore('g1', dir).read(queue)).toBe(42);
  });

  it('refuses a damaged file with a message naming it', async () => {
    const sub = join(dir, 'bad');
    mkdirSync(sub);
    writeFileSync(join(sub, 'g2.json'), '{"version":1,"offsets":{"x":-1}}');
    await expect(new LocalOffsetStore('g2', sub).read(queue)).rejects.toThrow(/g2\.json/);
  });
});
