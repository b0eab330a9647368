// The Appender over an in-memory double of its store port: it stores the ids and properties it is
// given, re-appends an id as a new record (no producer de-duplication), refuses writes on a slave,
// passes the sync replication wait's code through, and refuses bad input with nothing stored.
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Appender, SYNC_WAIT_DEADLINE_MARGIN_MS } from '../../../../broker/append/appender.js';
import type { ReplicationView } from '../../../../broker/replication/index.js';
import { ErrorCode, errorCodeName } from '../../../../common/errors.js';
import { BATCH_MESSAGE_COUNT_MAX, MESSAGE_BODY_BYTES_MAX, PROPERTY_COUNT_MAX } from '../../../../common/limits.js';
import { measureBatch, type RecordMessage } from '../../../../common/record.js';
import { conveyor } from '../../../../proto/index.js';
import { MemoryAppendStore } from './memory-append-store.js';
import { codeOf } from '../../../helpers/errors.js';

const TOPIC = '%SYS%RETRY%g';

type WaitCode = conveyor.ErrorCode.OK | conveyor.ErrorCode.SLAVE_TIMEOUT | conveyor.ErrorCode.SLAVE_NOT_AVAILABLE;

function message(messageId: string, extra: Partial<RecordMessage> = {}): RecordMessage {
  return { messageId, keys: [], tag: '', properties: {}, body: Buffer.from(`body of ${messageId}`), bornTimestampMs: 5, flags: 0, ...extra };
}

/** A master (or slave) Appender over a fresh double; `sync` makes it a master in sync replication mode answering `sync`. */
function appender(options: { brokerId?: number; sync?: WaitCode } = {}) {
  const store = new MemoryAppendStore();
  const waits: Array<{ end: number; timeoutMs: number }> = [];
  const code = options.sync;
  const replication: Pick<ReplicationView, 'sync'> = {
    sync: code === undefined ? undefined : {
      timeoutMs: 1_500,
      waitForReplication: (end, timeoutMs) => {
        waits.push({ end, timeoutMs });
        return Promise.resolve(code);
      },
    },
  };
  const syncReplication = new Counter({ name: 'sync_sends_total', help: 'test', labelNames: ['status'], registers: [] });
  const a = new Appender({ store, identity: { brokerName: 'broker-a', brokerId: options.brokerId ?? 0 }, replication, metrics: { syncReplication } });
  return { appender: a, store, waits, syncReplication };
}


describe('Appender', () => {
  it('stores the message id and properties it is given and answers where each message went', async () => {
    const { appender: a, store } = appender();
    const original = message('id-from-the-producer', { keys: ['order-7'], tag: 'paid', properties: { ORIGIN_TOPIC: 't', RETRY_TIMES: '1' } });
    const written = await a.write(TOPIC, 2, [original, message('second')]);
    expect(written.status).toBe(ErrorCode.OK);
    expect(written.results.map((r) => [r.messageId, r.topic, r.queueId, r.queueOffset])).toEqual([
      ['id-from-the-producer', TOPIC, 2, 0],
      ['second', TOPIC, 2, 1],
    ]);
    expect(store.stored).toHaveLength(2);
    expect(store.stored[0]!.message).toEqual(original);
    expect(store.stored[0]!.message.properties).toEqual({ ORIGIN_TOPIC: 't', RETRY_TIMES: '1' });
    // The sizes it validated are the ones it hands the store (no second measuring).
    expect(store.measuredSizes).toEqual([measureBatch(TOPIC, [original, message('second')])]);
  });

  it('stores a re-append of an id it already stored as a new record, never as a duplicate', async () => {
    const { appender: a, store } = appender();
    const first = await a.write(TOPIC, 0, [message('same-id')]);
    const again = await a.write(TOPIC, 0, [message('same-id')]);
    expect(store.stored.map((s) => [s.message.messageId, s.queueOffset])).toEqual([
      ['same-id', 0],
      ['same-id', 1],
    ]);
    expect(again.results[0]!.physicalOffset).toBeGreaterThan(first.results[0]!.physicalOffset);
    // Within one batch too: a repeated id is two records.
    const batch = await a.write(TOPIC, 1, [message('twice'), message('twice')]);
    expect(batch.results.map((r) => r.queueOffset)).toEqual([0, 1]);
  });

  it('refuses every write on a slave with NOT_MASTER and stores nothing', async () => {
    const { appender: a, store, waits } = appender({ brokerId: 1, sync: ErrorCode.OK });
    expect(await codeOf(a.write(TOPIC, 0, [message('a')]))).toBe('NOT_MASTER');
    expect(await codeOf(a.append(TOPIC, 0, [message('a')], measureBatch(TOPIC, [message('a')])))).toBe('NOT_MASTER');
    expect(() => a.requireMaster()).toThrow(/slave/);
    expect(store.stored).toEqual([]);
    expect(waits).toEqual([]);
  });

  it.each([ErrorCode.OK, ErrorCode.SLAVE_TIMEOUT, ErrorCode.SLAVE_NOT_AVAILABLE] as const)('passes the sync replication answer %s through as the status, after waiting for the end of the batch', async (code) => {
    const { appender: a, store, waits, syncReplication } = appender({ sync: code });
    const written = await a.write(TOPIC, 0, [message('a'), message('bb')]);
    expect(written.status).toBe(code);
    expect(waits).toEqual([{ end: store.endPhysicalOffset, timeoutMs: 1_500 }]);
    expect(store.stored).toHaveLength(2); // stored on the master whatever the answer
    expect((await syncReplication.get()).values).toEqual([expect.objectContaining({ labels: { status: errorCodeName(code) }, value: 1 })]);
  });

  it('stops waiting for the slave the margin before the deadline', async () => {
    const { appender: a, waits } = appender({ sync: ErrorCode.SLAVE_TIMEOUT });
    const deadline = Date.now() + 1_000;
    expect(await a.replicated(100, { getDeadline: () => deadline })).toBe(ErrorCode.SLAVE_TIMEOUT);
    expect(waits[0]!.end).toBe(100);
    expect(waits[0]!.timeoutMs).toBeLessThanOrEqual(1_000 - SYNC_WAIT_DEADLINE_MARGIN_MS);
    expect(waits[0]!.timeoutMs).toBeGreaterThan(500);
  });

  it('answers OK without waiting under async replication', async () => {
    const { appender: a, waits } = appender();
    expect(await a.replicated(100)).toBe(ErrorCode.OK);
    expect((await a.write(TOPIC, 0, [message('a')])).status).toBe(ErrorCode.OK);
    expect(waits).toEqual([]);
  });

  it('refuses bad input with its code and stores nothing, not even the good messages of the batch', async () => {
    const { appender: a, store } = appender();
    const good = message('good');
    const cases: Array<[string, string, RecordMessage[]]> = [
      ['INVALID_ARGUMENT', TOPIC, []],
      ['INVALID_ARGUMENT', TOPIC, [good, message('')]],
      ['INVALID_ARGUMENT', TOPIC, [good, message('k', { keys: [''] })]],
      ['INVALID_ARGUMENT', TOPIC, [good, message('t', { tag: 'a|b' })]],
      ['INVALID_NAME', 'bad topic', [good]],
      ['INVALID_NAME', '', [good]],
      ['MESSAGE_TOO_LARGE', TOPIC, [good, message('big', { body: Buffer.alloc(MESSAGE_BODY_BYTES_MAX + 1) })]],
      ['TOO_MANY_PROPERTIES', TOPIC, [good, message('p', { properties: Object.fromEntries(Array.from({ length: PROPERTY_COUNT_MAX + 1 }, (_, i) => [`k${i}`, 'v'])) })]],
      ['BATCH_TOO_LARGE', TOPIC, Array.from({ length: BATCH_MESSAGE_COUNT_MAX + 1 }, (_, i) => message(`m${i}`))],
    ];
    const codes: string[] = [];
    for (const [, topic, messages] of cases) codes.push(await codeOf(a.write(topic, 0, messages)));
    expect(codes).toEqual(cases.map(([code]) => code));
    expect(store.stored).toEqual([]);
    expect(store.measuredSizes).toEqual([]);
  });
});
