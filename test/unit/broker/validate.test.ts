import { describe, expect, it } from 'vitest';
import { CLIENT_ID_LENGTH_MAX } from '../../../broker/consumers/consumer-groups.js';
import {
  PERM_READ,
  PERM_READ_WRITE,
  QUEUE_COUNT_MAX,
  validateClientId,
  validateGroupConfig,
  validateQueueId,
  validateQueueOffset,
  toRecordMessages,
  validateSendBatch,
  validateTopicConfig,
} from '../../../broker/validate.js';
import { conveyor } from '../../../proto/index.js';
import { ErrorCode, isConveyorError } from '../../../common/errors.js';
import {
  BATCH_MESSAGE_COUNT_MAX,
  MESSAGE_BODY_BYTES_MAX,
  MESSAGE_ID_BYTES_MAX,
  MESSAGE_KEY_BYTES_MAX,
  MESSAGE_KEY_COUNT_MAX,
  PROPERTIES_BYTES_MAX,
  PROPERTY_COUNT_MAX,
  PROPERTY_KEY_BYTES_MAX,
  PROPERTY_VALUE_BYTES_MAX,
  TAG_BYTES_MAX,
} from '../../../common/limits.js';
import type { RecordMessage } from '../../../common/record.js';

function message(overrides: Partial<RecordMessage> = {}): RecordMessage {
  return { messageId: 'id-1', keys: [], tag: '', properties: {}, body: Buffer.from('hi'), bornTimestampMs: 1, flags: 0, ...overrides };
}

function codeOf(fn: () => unknown): ErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (isConveyorError(err)) return err.code;
    throw err;
  }
}

const send = (messages: RecordMessage[], topic = 't', producerGroup = '') => () => validateSendBatch(topic, producerGroup, messages);

describe('send validation at the edge', () => {
  it('accepts a plain batch and returns the record size of each message', () => {
    const sizes = validateSendBatch('orders', 'pg', [message(), message({ messageId: 'id-2', body: Buffer.alloc(100) })]);
    expect(sizes).toHaveLength(2);
    expect(sizes[1]! - sizes[0]!).toBe(98);
  });

  it('rejects bad topic and producer-group names with INVALID_NAME', () => {
    expect(codeOf(send([message()], 'bad topic'))).toBe(ErrorCode.INVALID_NAME);
    expect(codeOf(send([message()], ''))).toBe(ErrorCode.INVALID_NAME);
    expect(codeOf(send([message()], 'x'.repeat(128)))).toBe(ErrorCode.INVALID_NAME);
    expect(codeOf(send([message()], 't', 'bad/group'))).toBe(ErrorCode.INVALID_NAME);
    expect(codeOf(send([message()], 't', ''))).toBe('ok');
  });

  it('rejects an empty batch with INVALID_ARGUMENT', () => {
    expect(codeOf(send([]))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('bounds the batch by count and by bytes with BATCH_TOO_LARGE', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => message({ messageId: `m${i}` }));
    expect(codeOf(send(many(BATCH_MESSAGE_COUNT_MAX)))).toBe('ok');
    expect(codeOf(send(many(BATCH_MESSAGE_COUNT_MAX + 1)))).toBe(ErrorCode.BATCH_TOO_LARGE);
    const body = Buffer.alloc(MESSAGE_BODY_BYTES_MAX);
    expect(codeOf(send(Array.from({ length: 8 }, (_, i) => message({ messageId: `b${i}`, body }))))).toBe(ErrorCode.BATCH_TOO_LARGE);
  });

  it('requires a message id of 1 to 128 bytes', () => {
    expect(codeOf(send([message({ messageId: '' })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(send([message({ messageId: 'i'.repeat(MESSAGE_ID_BYTES_MAX) })]))).toBe('ok');
    expect(codeOf(send([message({ messageId: 'i'.repeat(MESSAGE_ID_BYTES_MAX + 1) })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    // Counted in UTF-8 bytes: 42 × '€' is 126 bytes, 43 × '€' is 129.
    expect(codeOf(send([message({ messageId: '€'.repeat(42) })]))).toBe('ok');
    expect(codeOf(send([message({ messageId: '€'.repeat(43) })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(send([message({ messageId: 'é'.repeat(65) })]))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('bounds the body with MESSAGE_TOO_LARGE', () => {
    expect(codeOf(send([message({ body: Buffer.alloc(MESSAGE_BODY_BYTES_MAX) })]))).toBe('ok');
    expect(codeOf(send([message({ body: Buffer.alloc(MESSAGE_BODY_BYTES_MAX + 1) })]))).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(codeOf(send([message({ body: Buffer.alloc(0) })]))).toBe('ok');
  });

  it('bounds keys: count, length, and no empty key', () => {
    expect(codeOf(send([message({ keys: Array.from({ length: MESSAGE_KEY_COUNT_MAX }, (_, i) => `k${i}`) })]))).toBe('ok');
    expect(codeOf(send([message({ keys: Array.from({ length: MESSAGE_KEY_COUNT_MAX + 1 }, (_, i) => `k${i}`) })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(send([message({ keys: ['k'.repeat(MESSAGE_KEY_BYTES_MAX + 1)] })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(send([message({ keys: [''] })]))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('bounds the tag and refuses tags no tag expression could select', () => {
    expect(codeOf(send([message({ tag: 't'.repeat(TAG_BYTES_MAX) })]))).toBe('ok');
    expect(codeOf(send([message({ tag: 't'.repeat(TAG_BYTES_MAX + 1) })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(send([message({ tag: 'a b' })]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(send([message({ tag: 'a||b' })]))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('bounds properties with TOO_MANY_PROPERTIES: count, name, value and total', () => {
    const props = (n: number, value = 'v') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, value]));
    expect(codeOf(send([message({ properties: props(PROPERTY_COUNT_MAX) })]))).toBe('ok');
    expect(codeOf(send([message({ properties: props(PROPERTY_COUNT_MAX + 1) })]))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
    expect(codeOf(send([message({ properties: { ['n'.repeat(PROPERTY_KEY_BYTES_MAX + 1)]: 'v' } })]))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
    expect(codeOf(send([message({ properties: { p: 'v'.repeat(PROPERTY_VALUE_BYTES_MAX + 1) } })]))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
    const perValue = Math.floor(PROPERTIES_BYTES_MAX / 3);
    expect(codeOf(send([message({ properties: props(4, 'v'.repeat(perValue)) })]))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
  });

  it('reports the index of the bad message in the batch', () => {
    try {
      validateSendBatch('t', '', [message(), message({ messageId: '' })]);
      expect.unreachable();
    } catch (err) {
      expect(isConveyorError(err) && err.fields.index).toBe(1);
    }
  });
});

describe('queue, offset and client id validation', () => {
  it('accepts queue ids below the count and refuses others with QUEUE_NOT_FOUND', () => {
    expect(codeOf(() => validateQueueId('t', 0, 4, 'write'))).toBe('ok');
    expect(codeOf(() => validateQueueId('t', 3, 4, 'write'))).toBe('ok');
    expect(codeOf(() => validateQueueId('t', 4, 4, 'write'))).toBe(ErrorCode.QUEUE_NOT_FOUND);
    expect(codeOf(() => validateQueueId('t', -1, 4, 'read'))).toBe(ErrorCode.QUEUE_NOT_FOUND);
  });

  it('refuses negative or fractional offsets', () => {
    expect(codeOf(() => validateQueueOffset(0))).toBe('ok');
    expect(codeOf(() => validateQueueOffset(-1))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => validateQueueOffset(1.5))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('requires a client id of 1 to 255 characters', () => {
    expect(codeOf(() => validateClientId(''))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => validateClientId('c'.repeat(CLIENT_ID_LENGTH_MAX)))).toBe('ok');
    expect(codeOf(() => validateClientId('c'.repeat(CLIENT_ID_LENGTH_MAX + 1)))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('topic and group config validation', () => {
  it('fills perm 0 as read+write and keeps the rest', () => {
    expect(validateTopicConfig({ topicName: 't', readQueueCount: 4, writeQueueCount: 2 })).toEqual({ topicName: 't', readQueueCount: 4, writeQueueCount: 2, perm: PERM_READ_WRITE, ordered: false });
    expect(validateTopicConfig({ topicName: 't', readQueueCount: 1, writeQueueCount: 1, perm: PERM_READ, ordered: true }).perm).toBe(PERM_READ);
  });

  it('requires queue counts from 1 to 1024', () => {
    expect(codeOf(() => validateTopicConfig({ topicName: 't', readQueueCount: 0, writeQueueCount: 1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => validateTopicConfig({ topicName: 't', readQueueCount: 1, writeQueueCount: QUEUE_COUNT_MAX + 1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => validateTopicConfig({ topicName: 't', readQueueCount: QUEUE_COUNT_MAX, writeQueueCount: QUEUE_COUNT_MAX }))).toBe('ok');
  });

  it('refuses unknown perm bits, a bad name and a missing config', () => {
    expect(codeOf(() => validateTopicConfig({ topicName: 't', readQueueCount: 1, writeQueueCount: 1, perm: 8 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => validateTopicConfig({ topicName: 'a.b', readQueueCount: 1, writeQueueCount: 1 }))).toBe(ErrorCode.INVALID_NAME);
    expect(codeOf(() => validateTopicConfig(null))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('checks group configs', () => {
    expect(validateGroupConfig({ groupName: 'g', retryMaxTimes: 3 })).toEqual({ groupName: 'g', consumeEnable: false, retryMaxTimes: 3, broadcast: false });
    expect(codeOf(() => validateGroupConfig({ groupName: 'g g' }))).toBe(ErrorCode.INVALID_NAME);
    expect(codeOf(() => validateGroupConfig({ groupName: 'g', retryMaxTimes: 33 }))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('send messages as the store takes them', () => {
  it('uses a decoded wire message as it is, with its defaults, and fills missing fields of anything else', () => {
    const wire = conveyor.SendRequest.decode(conveyor.SendRequest.encode({ topic: 't', messages: [{ messageId: 'a', body: Buffer.from('x') }] }).finish()).messages;
    const [decoded] = toRecordMessages(wire);
    expect(decoded).toBe(wire[0]);
    const { messageId, keys, tag, properties, body, bornTimestampMs, flags } = decoded!;
    expect({ messageId, keys: [...keys], tag, properties: { ...properties }, body: Buffer.from(body), bornTimestampMs, flags }).toEqual({ messageId: 'a', keys: [], tag: '', properties: {}, body: Buffer.from('x'), bornTimestampMs: 0, flags: 0 });
    const partial = conveyor.MessageInput.create({ messageId: 'b' });
    partial.body = null as unknown as Uint8Array;
    const [filled] = toRecordMessages([partial]);
    expect(filled).not.toBe(partial);
    expect(filled).toEqual({ messageId: 'b', keys: [], tag: '', properties: {}, body: new Uint8Array(0), bornTimestampMs: 0, flags: 0 });
    expect(toRecordMessages([{ messageId: 'c' }])[0]).toEqual({ messageId: 'c', keys: [], tag: '', properties: {}, body: new Uint8Array(0), bornTimestampMs: 0, flags: 0 });
  });
});
