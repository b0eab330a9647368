import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import {
  BATCH_BYTES_MAX,
  BATCH_MESSAGE_COUNT_MAX,
  MESSAGE_BODY_BYTES_MAX,
  PROPERTY_COUNT_MAX,
  PROPERTY_VALUE_BYTES_MAX,
  RECORD_BYTES_MAX,
} from '../../../common/limits.js';
import {
  checkRecordAt,
  decodeRecord,
  decodeRecordIndexFields,
  decodeRecords,
  encodePadding,
  encodeRecord,
  measureBatch,
  measureRecord,
  PADDING_HEADER_BYTES,
  readU64,
  recordStoreTimestamp,
  tagHash,
  tagHashParts,
  writeU64,
  type RecordMessage,
  type RecordPlacement,
} from '../../../common/record.js';

const sample: RecordMessage = {
  messageId: 'msg-0001',
  keys: ['order-17', 'ключ'],
  tag: 'created',
  properties: { trace: 'abc', 'content-type': 'application/json' },
  body: Buffer.from('{"hello":"world"}'),
  bornTimestampMs: 1_700_000_000_123,
  flags: 7,
};
const placement: RecordPlacement = { topic: 'orders', queueId: 3, queueOffset: 2 ** 40 + 5, physicalOffset: 2 ** 45 + 17, storeTimestampMs: 1_700_000_000_999 };

function encode(message: RecordMessage = sample, at: RecordPlacement = placement): Buffer {
  const size = measureRecord(at.topic, message);
  const buf = Buffer.alloc(size);
  expect(encodeRecord(buf, 0, size, message, at)).toBe(size);
  return buf;
}

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConveyorError ? err.code : undefined;
  }
  return undefined;
}

describe('record codec', () => {
  it('round-trips every field, including offsets above 2^32 and UTF-8 keys', () => {
    const buf = encode();
    const record = decodeRecord(buf);
    expect(record).toMatchObject({ ...placement, messageId: 'msg-0001', keys: ['order-17', 'ключ'], tag: 'created', bornTimestampMs: 1_700_000_000_123, flags: 7, size: buf.length });
    expect(record.properties).toEqual({ trace: 'abc', 'content-type': 'application/json' });
    expect(Buffer.from(record.body).toString()).toBe('{"hello":"world"}');
    expect(recordStoreTimestamp(buf, 0)).toBe(placement.storeTimestampMs);
    expect(decodeRecordIndexFields(buf)).toMatchObject({ topic: 'orders', queueId: 3, messageId: 'msg-0001', tag: 'created' });
  });

  it('round-trips an empty message', () => {
    const empty: RecordMessage = { messageId: '', keys: [], tag: '', properties: {}, body: new Uint8Array(0), bornTimestampMs: 0, flags: 0 };
    const record = decodeRecord(encode(empty));
    expect(record.messageId).toBe('');
    expect(record.body.length).toBe(0);
    expect(record.properties).toEqual({});
  });

  it('rejects a record with a flipped byte anywhere after the length', () => {
    const buf = encode();
    for (const position of [4, 8, 20, 60, buf.length - 1]) {
      const copy = Buffer.from(buf);
      copy[position]! ^= 0x01;
      expect(checkRecordAt(copy, 0, Number.POSITIVE_INFINITY).kind, `byte ${position}`).toBe('corrupt');
      expect(codeOf(() => decodeRecord(copy))).toBe(ErrorCode.CORRUPT_RECORD);
    }
  });

  it('rejects with CORRUPT_RECORD a record whose CRC holds but whose fields run past its end, or that is cut or padding', () => {
    const buf = encode();
    // The id length (after the header and the topic) claims more bytes than the record has; the CRC is made to match.
    const idLengthAt = 49 + 1 + placement.topic.length;
    for (const [position, value] of [[idLengthAt, 0xff], [buf.length - sample.body.length - 4, 0x7f]] as const) {
      const copy = Buffer.from(buf);
      copy[position] = value;
      copy.writeUInt32BE(crc32c(copy.subarray(8)), 4);
      expect(checkRecordAt(copy, 0, Number.POSITIVE_INFINITY).kind).toBe('record');
      expect(codeOf(() => decodeRecord(copy)), `byte ${position}`).toBe(ErrorCode.CORRUPT_RECORD);
    }
    expect(codeOf(() => decodeRecord(buf.subarray(0, buf.length - 1)))).toBe(ErrorCode.CORRUPT_RECORD);
    expect(codeOf(() => decodeRecord(buf.subarray(0, 30)))).toBe(ErrorCode.CORRUPT_RECORD);
    const pad = Buffer.alloc(40);
    encodePadding(pad, 0, 40, 0);
    expect(codeOf(() => decodeRecord(pad))).toBe(ErrorCode.CORRUPT_RECORD);
  });

  it('reports a cut record as incomplete and a wrong physical offset as corrupt', () => {
    const buf = encode();
    expect(checkRecordAt(buf.subarray(0, buf.length - 1), 0, Number.POSITIVE_INFINITY)).toEqual({ kind: 'incomplete' });
    expect(checkRecordAt(buf.subarray(0, 5), 0, Number.POSITIVE_INFINITY)).toEqual({ kind: 'incomplete' });
    expect(checkRecordAt(buf, 0, Number.POSITIVE_INFINITY, placement.physicalOffset)).toEqual({ kind: 'record', size: buf.length });
    expect(checkRecordAt(buf, 0, Number.POSITIVE_INFINITY, placement.physicalOffset + 1).kind).toBe('corrupt');
    expect(checkRecordAt(buf, 0, buf.length).kind).toBe('corrupt'); // no room for a padding header after it
  });

  it('encodes padding that is valid only when it reaches the segment end', () => {
    const buf = Buffer.alloc(100);
    encodePadding(buf, 0, 100, 4096);
    expect(checkRecordAt(buf, 0, 100, 4096)).toEqual({ kind: 'padding', size: 100 });
    expect(checkRecordAt(buf, 0, 101, 4096).kind).toBe('corrupt');
    expect(checkRecordAt(buf, 0, 100, 4097).kind).toBe('corrupt');
    expect(checkRecordAt(buf.subarray(0, PADDING_HEADER_BYTES), 0, 100).kind).toBe('padding');
  });

  it('iterates a concatenation of records and skips padding', () => {
    const a = encode({ ...sample, messageId: 'a' });
    const pad = Buffer.alloc(40);
    encodePadding(pad, 0, 40, 0);
    const b = encode({ ...sample, messageId: 'b' });
    expect([...decodeRecords(Buffer.concat([a, pad, b]))].map((r) => r.messageId)).toEqual(['a', 'b']);
    expect([...decodeRecords(Buffer.alloc(0))]).toEqual([]);
    const badPadding = Buffer.alloc(20);
    badPadding[8] = 0xe0; // padding magic with a zero length
    expect(() => [...decodeRecords(badPadding)]).toThrow(ConveyorError);
  });

  it('reads and writes u64 values up to 2^53', () => {
    const buf = Buffer.alloc(8);
    for (const value of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      writeU64(buf, 0, value);
      expect(readU64(buf, 0)).toBe(value);
    }
  });
});

describe('record limits', () => {
  it('accepts a body of exactly the limit and rejects one byte more with MESSAGE_TOO_LARGE', () => {
    expect(measureRecord('t', { ...sample, body: new Uint8Array(MESSAGE_BODY_BYTES_MAX) })).toBeLessThanOrEqual(RECORD_BYTES_MAX);
    expect(codeOf(() => measureRecord('t', { ...sample, body: new Uint8Array(MESSAGE_BODY_BYTES_MAX + 1) }))).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });

  it('rejects too many or too large properties with TOO_MANY_PROPERTIES', () => {
    const many = Object.fromEntries(Array.from({ length: PROPERTY_COUNT_MAX + 1 }, (_, i) => [`p${i}`, 'v']));
    expect(codeOf(() => measureRecord('t', { ...sample, properties: many }))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
    expect(codeOf(() => measureRecord('t', { ...sample, properties: { big: 'x'.repeat(PROPERTY_VALUE_BYTES_MAX + 1) } }))).toBe(ErrorCode.TOO_MANY_PROPERTIES);
  });

  it('rejects batches over the count or byte limit with BATCH_TOO_LARGE', () => {
    const small = { ...sample, body: new Uint8Array(1) };
    expect(codeOf(() => measureBatch('t', Array.from({ length: BATCH_MESSAGE_COUNT_MAX + 1 }, () => small)))).toBe(ErrorCode.BATCH_TOO_LARGE);
    const big = { ...sample, body: new Uint8Array(MESSAGE_BODY_BYTES_MAX) };
    const count = Math.ceil(BATCH_BYTES_MAX / MESSAGE_BODY_BYTES_MAX) + 1;
    expect(codeOf(() => measureBatch('t', Array.from({ length: count }, () => big)))).toBe(ErrorCode.BATCH_TOO_LARGE);
  });

  it('rejects malformed ids, keys, tags and timestamps with INVALID_ARGUMENT', () => {
    expect(codeOf(() => measureRecord('t', { ...sample, messageId: 'x'.repeat(129) }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => measureRecord('t', { ...sample, keys: Array.from({ length: 33 }, () => 'k') }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => measureRecord('t', { ...sample, tag: 't'.repeat(256) }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => measureRecord('t', { ...sample, bornTimestampMs: -1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('tag hash', () => {
  it('is stable, 64 bits, distinct for distinct tags and zero for no tag', () => {
    expect(tagHash('')).toBe(0n);
    expect(tagHash('created')).toBe(tagHash('created'));
    expect(tagHash('created')).not.toBe(tagHash('deleted'));
    const { high, low } = tagHashParts('created');
    expect(tagHash('created')).toBe((BigInt(high) << 32n) | BigInt(low));
    const hashes = new Set(Array.from({ length: 10_000 }, (_, i) => tagHash(`tag-${i}`)));
    expect(hashes.size).toBe(10_000);
  });
});
