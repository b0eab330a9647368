import { describe, expect, it } from 'vitest';
import { messagesFromRecords, prepareBatch, prepareMessage } from '../../../client/message.js';
import { ErrorCode } from '../../../common/errors.js';
import { BATCH_MESSAGE_COUNT_MAX, MESSAGE_BODY_BYTES_MAX, PROPERTY_COUNT_MAX } from '../../../common/limits.js';
import { encodeRecord, measureRecord, type RecordMessage } from '../../../common/record.js';

describe('outgoing messages', () => {
  it('get a generated id unless one is given, and a string body becomes UTF-8 bytes', () => {
    const a = prepareMessage('t', { body: 'héllo' }, 1_000);
    expect(a.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(Buffer.from(a.body).toString('utf8')).toBe('héllo');
    expect(a.bornTimestampMs).toBe(1_000);
    expect(prepareMessage('t', { body: 'x', messageId: 'mine-1' }, 0).messageId).toBe('mine-1');
  });

  it('are refused before sending with the code the broker would give', () => {
    const code = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return (err as { code: unknown }).code;
      }
      return 'no error';
    };
    expect(code(() => prepareMessage('bad topic!', { body: 'x' }, 0))).toBe(ErrorCode.INVALID_NAME);
    expect(code(() => prepareMessage('t', { body: Buffer.alloc(MESSAGE_BODY_BYTES_MAX + 1) }, 0))).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    const properties = Object.fromEntries(Array.from({ length: PROPERTY_COUNT_MAX + 1 }, (_, i) => [`p${i}`, 'v']));
    expect(code(() => prepareMessage('t', { body: 'x', properties }, 0))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
    expect(code(() => prepareMessage('t', { body: 'x', tag: 'a b' }, 0))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(code(() => prepareMessage('t', { body: 'x', keys: [''] }, 0))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(code(() => prepareBatch('t', Array.from({ length: BATCH_MESSAGE_COUNT_MAX + 1 }, () => ({ body: 'x' })), 0))).toBe(ErrorCode.BATCH_TOO_LARGE);
  });
});

describe('stored records', () => {
  it('decode into messages with placement, keys, tag, properties and body', () => {
    const messages = [
      prepareMessage('t', { body: 'one', keys: ['k1'], tag: 'a', properties: { p: 'v' } }, 5),
      prepareMessage('t', { body: 'two' }, 6),
    ];
    const sizes = messages.map((m) => measureRecord('t', m));
    const buf = Buffer.alloc(sizes[0]! + sizes[1]!);
    let position = 0;
    messages.forEach((m, i) => {
      position = encodeRecord(buf, position, sizes[i]!, m, { topic: 't', queueId: 3, queueOffset: 10 + i, physicalOffset: 1000 + position, storeTimestampMs: 77 });
    });
    const decoded = messagesFromRecords(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), 'broker-a');
    expect(decoded).toHaveLength(2);
    expect(decoded[0]).toMatchObject({ topic: 't', brokerName: 'broker-a', queueId: 3, queueOffset: 10, messageId: messages[0]!.messageId, keys: ['k1'], tag: 'a', properties: { p: 'v' }, bornTimestampMs: 5, storeTimestampMs: 77 });
    expect(decoded[0]!.body.toString()).toBe('one');
    expect(decoded[1]!.body.toString()).toBe('two');
    expect(decoded[1]!.queueOffset).toBe(11);
    expect(messagesFromRecords(new Uint8Array(0), 'broker-a')).toEqual([]);
  });

  it('decode bodies as views of the pulled bytes, not copies, and messages without properties share one frozen object', () => {
    const messages = prepareBatch('t', [{ body: 'one' }, { body: 'two' }], 5);
    const sizes = messages.map((m) => measureRecord('t', m));
    const buf = Buffer.alloc(sizes.reduce((a, b) => a + b, 0));
    let position = 0;
    messages.forEach((m, i) => {
      position = encodeRecord(buf, position, sizes[i]!, m, { topic: 't', queueId: 0, queueOffset: i, physicalOffset: position, storeTimestampMs: 1 });
    });
    const decoded = messagesFromRecords(buf, 'broker-a');
    expect(decoded[0]!.body.buffer).toBe(buf.buffer);
    expect(decoded[0]!.properties).toEqual({});
    expect(Object.isFrozen(decoded[0]!.properties)).toBe(true);
    expect(decoded[1]!.properties).toBe(decoded[0]!.properties);
  });

  it('decode topics and tags right when they change from record to record, and messages without keys share one frozen array', () => {
    const placed: Array<[string, RecordMessage]> = [
      ['ta', prepareMessage('ta', { body: '1', tag: 'x' }, 1)],
      ['ta', prepareMessage('ta', { body: '2', tag: 'x', keys: ['k'] }, 1)],
      ['tb', prepareMessage('tb', { body: '3', tag: 'y' }, 1)],
      ['tb', prepareMessage('tb', { body: '4', tag: 'é' }, 1)],
      ['tb', prepareMessage('tb', { body: '5', tag: 'é' }, 1)],
      ['tbc', prepareMessage('tbc', { body: '6' }, 1)],
      ['tbc', prepareMessage('tbc', { body: '7', tag: 'z' }, 1)],
    ];
    const sizes = placed.map(([topic, m]) => measureRecord(topic, m));
    const buf = Buffer.alloc(sizes.reduce((a, b) => a + b, 0));
    let position = 0;
    placed.forEach(([topic, m], i) => {
      position = encodeRecord(buf, position, sizes[i]!, m, { topic, queueId: 0, queueOffset: i, physicalOffset: position, storeTimestampMs: 1 });
    });
    const decoded = messagesFromRecords(buf, 'broker-a');
    expect(decoded.map((m) => [m.topic, m.tag, m.body.toString()])).toEqual(placed.map(([topic, m]) => [topic, m.tag, Buffer.from(m.body).toString()]));
    expect(decoded[1]!.keys).toEqual(['k']);
    expect(decoded[0]!.keys).toEqual([]);
    expect(Object.isFrozen(decoded[0]!.keys)).toBe(true);
    expect(decoded[2]!.keys).toBe(decoded[0]!.keys);
  });
});
