// The stored record: the one codec for the commit log, the replication stream and pull answers.
// Pure (no I/O). The byte layout is in docs/record-format.md; keep the two in step.
//
//   0  u32 totalLength        4  u32 crc32c over [8, totalLength)     8  u8 magic (0xC1)
//   9  u32 flags             13  u32 queueId                          17  u64 queueOffset
//  25  u64 physicalOffset    33  u64 storeTimestampMs                 41  u64 bornTimestampMs
//  49  u8 topic length + topic, u8 id length + id, u8 key count + (u16 + key)*, u16 + tag,
//      u16 property count + (u16 + name, u16 + value)*, u32 body length + body
//
// A segment-end padding record fills a commit-log segment from where the next record did not fit:
//   0  u32 totalLength (to the segment end)   4  u32 crc32c over [8, 17)   8  u8 magic (0xE0)
//   9  u64 physicalOffset                    17  zeros up to totalLength
// All integers are big-endian; u64 values are below 2^53.
import { crc32c } from '@node-rs/crc32';
import { ConveyorError, ErrorCode } from './errors.js';
import {
  BATCH_BYTES_MAX,
  BATCH_MESSAGE_COUNT_MAX,
  MESSAGE_BODY_BYTES_MAX,
  MESSAGE_ID_BYTES_MAX,
  MESSAGE_KEY_BYTES_MAX,
  MESSAGE_KEY_COUNT_MAX,
  PROPERTIES_BYTES_MAX,
  PROPERTY_COUNT_MAX,
  PROPERTY_KEY_BYTES_MAX,
  PROPERTY_VALUE_BYTES_MAX,
  RECORD_BYTES_MAX,
  RECORD_OVERHEAD_BYTES,
  TAG_BYTES_MAX,
  TOPIC_NAME_LENGTH_MAX,
} from './limits.js';

export const RECORD_FORMAT_VERSION = 1;
const RECORD_MAGIC = 0xc1;
const PADDING_MAGIC = 0xe0;
/** Header of a padding record; also the least a segment keeps free after any record. */
export const PADDING_HEADER_BYTES = 17;
const RECORD_HEADER_BYTES = 49;
const RECORD_CRC_START = 8;

const POSITION_FLAGS = 9;
const POSITION_QUEUE_ID = 13;
const POSITION_QUEUE_OFFSET = 17;
const POSITION_PHYSICAL_OFFSET = 25;
const POSITION_STORE_TIMESTAMP = 33;
const POSITION_BORN_TIMESTAMP = 41;
const TWO_POW_32 = 0x1_0000_0000;

/** The message as a producer sent it. */
export interface RecordMessage {
  messageId: string;
  keys: string[];
  tag: string;
  properties: Record<string, string>;
  body: Uint8Array;
  bornTimestampMs: number;
  flags: number;
}

/** Where and when the broker stored it. */
export interface RecordPlacement {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  storeTimestampMs: number;
}

/** A decoded record; `body` is a view into the decoded buffer, not a copy. */
interface DecodedRecord extends RecordMessage, RecordPlacement {
  size: number;
}

/** What the dispatcher and the index need, without properties and body. */
export interface RecordIndexFields extends RecordPlacement {
  size: number;
  messageId: string;
  keys: string[];
  tag: string;
}

export function writeU64(buf: Buffer, position: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), position);
  buf.writeUInt32BE(value >>> 0, position + 4);
}

export function readU64(buf: Buffer, position: number): number {
  return buf.readUInt32BE(position) * TWO_POW_32 + buf.readUInt32BE(position + 4);
}

function tooLarge(code: ErrorCode, what: string, bytes: number, max: number, fields: Record<string, string | number> = {}): ConveyorError {
  return new ConveyorError(code, `${what} is ${bytes} bytes, over the limit of ${max}`, { bytes, max, ...fields });
}

/**
 * Checks a message against common/limits.ts and returns its encoded record size. Throws
 * ConveyorError (MESSAGE_TOO_LARGE, TOO_MANY_PROPERTIES, INVALID_ARGUMENT) naming the limit.
 */
export function measureRecord(topic: string, message: RecordMessage): number {
  const topicBytes = Buffer.byteLength(topic, 'latin1');
  if (topicBytes < 1 || topicBytes > TOPIC_NAME_LENGTH_MAX) throw tooLarge(ErrorCode.INVALID_ARGUMENT, 'topic name', topicBytes, TOPIC_NAME_LENGTH_MAX);
  const idBytes = Buffer.byteLength(message.messageId, 'utf8');
  if (idBytes > MESSAGE_ID_BYTES_MAX) throw tooLarge(ErrorCode.INVALID_ARGUMENT, 'message id', idBytes, MESSAGE_ID_BYTES_MAX);
  if (message.keys.length > MESSAGE_KEY_COUNT_MAX) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `message has ${message.keys.length} keys, over the limit of ${MESSAGE_KEY_COUNT_MAX}`, { count: message.keys.length, max: MESSAGE_KEY_COUNT_MAX });
  }
  let size = RECORD_OVERHEAD_BYTES + topicBytes + idBytes;
  for (const key of message.keys) {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes > MESSAGE_KEY_BYTES_MAX) throw tooLarge(ErrorCode.INVALID_ARGUMENT, 'message key', keyBytes, MESSAGE_KEY_BYTES_MAX);
    size += 2 + keyBytes;
  }
  const tagBytes = Buffer.byteLength(message.tag, 'utf8');
  if (tagBytes > TAG_BYTES_MAX) throw tooLarge(ErrorCode.INVALID_ARGUMENT, 'tag', tagBytes, TAG_BYTES_MAX);
  size += tagBytes + measureProperties(message.properties);
  if (message.body.byteLength > MESSAGE_BODY_BYTES_MAX) throw tooLarge(ErrorCode.MESSAGE_TOO_LARGE, 'message body', message.body.byteLength, MESSAGE_BODY_BYTES_MAX);
  if (!Number.isSafeInteger(message.bornTimestampMs) || message.bornTimestampMs < 0) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `born timestamp ${message.bornTimestampMs} is not a non-negative integer`, {});
  }
  if (!Number.isInteger(message.flags) || message.flags < 0 || message.flags >= TWO_POW_32) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `flags ${message.flags} is not a 32-bit unsigned integer`, {});
  }
  return size + message.body.byteLength;
}

function measureProperties(properties: Record<string, string>): number {
  let count = 0;
  let bytes = 0;
  for (const name in properties) {
    if (!Object.hasOwn(properties, name)) continue;
    count++;
    const nameBytes = Buffer.byteLength(name, 'utf8');
    const valueBytes = Buffer.byteLength(properties[name] ?? '', 'utf8');
    if (nameBytes > PROPERTY_KEY_BYTES_MAX) throw tooLarge(ErrorCode.TOO_MANY_PROPERTIES, 'property name', nameBytes, PROPERTY_KEY_BYTES_MAX);
    if (valueBytes > PROPERTY_VALUE_BYTES_MAX) throw tooLarge(ErrorCode.TOO_MANY_PROPERTIES, `property '${name.slice(0, 40)}'`, valueBytes, PROPERTY_VALUE_BYTES_MAX);
    bytes += 4 + nameBytes + valueBytes;
  }
  if (count > PROPERTY_COUNT_MAX) {
    throw new ConveyorError(ErrorCode.TOO_MANY_PROPERTIES, `message has ${count} properties, over the limit of ${PROPERTY_COUNT_MAX}`, { count, max: PROPERTY_COUNT_MAX });
  }
  if (bytes - 4 * count > PROPERTIES_BYTES_MAX) throw tooLarge(ErrorCode.TOO_MANY_PROPERTIES, 'all properties together', bytes - 4 * count, PROPERTIES_BYTES_MAX);
  return bytes;
}

/** Checks a batch's count and encoded bytes; returns the size of each record. Nothing is written on error. */
export function measureBatch(topic: string, messages: readonly RecordMessage[]): number[] {
  if (messages.length > BATCH_MESSAGE_COUNT_MAX) {
    throw new ConveyorError(ErrorCode.BATCH_TOO_LARGE, `batch has ${messages.length} messages, over the limit of ${BATCH_MESSAGE_COUNT_MAX}`, { count: messages.length, max: BATCH_MESSAGE_COUNT_MAX });
  }
  const sizes = new Array<number>(messages.length);
  let total = 0;
  for (let i = 0; i < messages.length; i++) {
    const size = measureRecord(topic, messages[i]!);
    sizes[i] = size;
    total += size;
  }
  if (total > BATCH_BYTES_MAX) throw tooLarge(ErrorCode.BATCH_TOO_LARGE, 'batch', total, BATCH_BYTES_MAX);
  return sizes;
}

/** Short ASCII strings are copied in JS (cheaper than a native call); -1 when the string is long or not ASCII. */
function writeShortAscii(buf: Buffer, position: number, value: string): number {
  const length = value.length;
  if (length > 48) return -1;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return -1;
    buf[position + i] = c;
  }
  return length;
}

function writeString8(buf: Buffer, position: number, value: string, encoding: BufferEncoding): number {
  let written = writeShortAscii(buf, position + 1, value);
  if (written < 0) written = buf.write(value, position + 1, encoding);
  buf[position] = written;
  return position + 1 + written;
}

function writeString16(buf: Buffer, position: number, value: string): number {
  let written = writeShortAscii(buf, position + 2, value);
  if (written < 0) written = buf.write(value, position + 2, 'utf8');
  buf[position] = written >>> 8;
  buf[position + 1] = written & 0xff;
  return position + 2 + written;
}

/**
 * Encodes one record at `position`; `size` must come from measureRecord. Returns the position
 * after it. The CRC is computed last, over the finished bytes.
 */
export function encodeRecord(buf: Buffer, position: number, size: number, message: RecordMessage, placement: RecordPlacement): number {
  const start = position;
  buf.writeUInt32BE(size, start);
  buf[start + 8] = RECORD_MAGIC;
  buf.writeUInt32BE(message.flags, start + POSITION_FLAGS);
  buf.writeUInt32BE(placement.queueId, start + POSITION_QUEUE_ID);
  writeU64(buf, start + POSITION_QUEUE_OFFSET, placement.queueOffset);
  writeU64(buf, start + POSITION_PHYSICAL_OFFSET, placement.physicalOffset);
  writeU64(buf, start + POSITION_STORE_TIMESTAMP, placement.storeTimestampMs);
  writeU64(buf, start + POSITION_BORN_TIMESTAMP, message.bornTimestampMs);
  let p = writeString8(buf, start + RECORD_HEADER_BYTES, placement.topic, 'latin1');
  p = writeString8(buf, p, message.messageId, 'utf8');
  buf[p++] = message.keys.length;
  for (const key of message.keys) p = writeString16(buf, p, key);
  p = writeString16(buf, p, message.tag);
  const countPosition = p;
  p += 2;
  let count = 0;
  for (const name in message.properties) {
    if (!Object.hasOwn(message.properties, name)) continue;
    p = writeString16(buf, p, name);
    p = writeString16(buf, p, message.properties[name] ?? '');
    count++;
  }
  buf.writeUInt16BE(count, countPosition);
  buf.writeUInt32BE(message.body.byteLength, p);
  buf.set(message.body, p + 4);
  p += 4 + message.body.byteLength;
  if (p - start !== size) throw new Error(`assertion failed: record size ${size} disagrees with encoded ${p - start} bytes`);
  buf.writeUInt32BE(crc32c(buf.subarray(start + RECORD_CRC_START, p)), start + 4);
  return p;
}

/** Writes a padding header at `position` covering `totalLength` bytes; the caller zero-fills the rest. */
export function encodePadding(buf: Buffer, position: number, totalLength: number, physicalOffset: number): void {
  buf.writeUInt32BE(totalLength, position);
  buf[position + 8] = PADDING_MAGIC;
  writeU64(buf, position + 9, physicalOffset);
  buf.writeUInt32BE(crc32c(buf.subarray(position + RECORD_CRC_START, position + PADDING_HEADER_BYTES)), position + 4);
}

type RecordCheck =
  | { kind: 'record'; size: number }
  | { kind: 'padding'; size: number }
  | { kind: 'incomplete' }
  | { kind: 'corrupt'; reason: string };

/**
 * Validates what starts at `position`: length bounds, magic, CRC and, when given, the physical
 * offset it claims. `bytesToSegmentEnd` bounds lengths (Infinity outside the commit log). A padding
 * record is whole once its header is there: its zeros are not checked.
 */
export function checkRecordAt(buf: Buffer, position: number, bytesToSegmentEnd: number, expectedPhysicalOffset?: number): RecordCheck {
  const available = buf.length - position;
  if (available < 9) return { kind: 'incomplete' };
  const length = buf.readUInt32BE(position);
  const magic = buf[position + 8];
  if (magic === PADDING_MAGIC) {
    if (length !== bytesToSegmentEnd && Number.isFinite(bytesToSegmentEnd)) return { kind: 'corrupt', reason: 'padding does not end at the segment end' };
    if (length < PADDING_HEADER_BYTES) return { kind: 'corrupt', reason: 'padding shorter than its header' };
    if (available < PADDING_HEADER_BYTES) return { kind: 'incomplete' };
    if (crc32c(buf.subarray(position + RECORD_CRC_START, position + PADDING_HEADER_BYTES)) !== buf.readUInt32BE(position + 4)) return { kind: 'corrupt', reason: 'padding crc mismatch' };
    if (expectedPhysicalOffset !== undefined && readU64(buf, position + 9) !== expectedPhysicalOffset) return { kind: 'corrupt', reason: 'padding physical offset mismatch' };
    return { kind: 'padding', size: length };
  }
  if (magic !== RECORD_MAGIC) return { kind: 'corrupt', reason: 'bad magic' };
  if (length < RECORD_OVERHEAD_BYTES + 1 || length > RECORD_BYTES_MAX) return { kind: 'corrupt', reason: 'length out of bounds' };
  if (length + PADDING_HEADER_BYTES > bytesToSegmentEnd) return { kind: 'corrupt', reason: 'record crosses the segment end' };
  if (available < length) return { kind: 'incomplete' };
  if (crc32c(buf.subarray(position + RECORD_CRC_START, position + length)) !== buf.readUInt32BE(position + 4)) return { kind: 'corrupt', reason: 'crc mismatch' };
  if (expectedPhysicalOffset !== undefined && readU64(buf, position + POSITION_PHYSICAL_OFFSET) !== expectedPhysicalOffset) return { kind: 'corrupt', reason: 'physical offset mismatch' };
  return { kind: 'record', size: length };
}

/** Field reader for a record already checked, for hot paths that need one value. */
export function recordStoreTimestamp(buf: Buffer, position: number): number {
  return readU64(buf, position + POSITION_STORE_TIMESTAMP);
}
export const RECORD_STORE_TIMESTAMP_POSITION = POSITION_STORE_TIMESTAMP;

class Reader {
  constructor(private readonly buf: Buffer, public position: number, private readonly end: number) {}
  private need(n: number): void {
    if (this.position + n > this.end) throw new ConveyorError(ErrorCode.CORRUPT_RECORD, 'record field runs past the record end', { position: this.position });
  }
  u8(): number { this.need(1); return this.buf[this.position++]!; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.position); this.position += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32BE(this.position); this.position += 4; return v; }
  string(length: number, encoding: BufferEncoding = 'utf8'): string {
    this.need(length);
    const v = this.buf.toString(encoding, this.position, this.position + length);
    this.position += length;
    return v;
  }
  bytes(length: number): Buffer { this.need(length); const v = this.buf.subarray(this.position, this.position + length); this.position += length; return v; }
  skip(length: number): void { this.need(length); this.position += length; }
}

function readHead(buf: Buffer, position: number): { fields: RecordIndexFields; reader: Reader } {
  const size = buf.readUInt32BE(position);
  const reader = new Reader(buf, position + RECORD_HEADER_BYTES, position + size);
  const topic = reader.string(reader.u8(), 'latin1');
  const messageId = reader.string(reader.u8());
  const keyCount = reader.u8();
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) keys.push(reader.string(reader.u16()));
  const tag = reader.string(reader.u16());
  const fields: RecordIndexFields = {
    size,
    topic,
    queueId: buf.readUInt32BE(position + POSITION_QUEUE_ID),
    queueOffset: readU64(buf, position + POSITION_QUEUE_OFFSET),
    physicalOffset: readU64(buf, position + POSITION_PHYSICAL_OFFSET),
    storeTimestampMs: readU64(buf, position + POSITION_STORE_TIMESTAMP),
    messageId,
    keys,
    tag,
  };
  return { fields, reader };
}

/** Topic, queue, offsets, id, keys and tag of a checked record (no properties, no body). */
export function decodeRecordIndexFields(buf: Buffer, position = 0): RecordIndexFields {
  return readHead(buf, position).fields;
}

/** Decodes and validates (length, CRC) the record at `position`. Throws CORRUPT_RECORD. */
/** A decoded record whose body is a Buffer view into the decoded buffer. */
interface DecodedRecordView extends DecodedRecord {
  body: Buffer;
}

/** The `properties` of every record that has none: shared, frozen (no object per record). */
const NO_PROPERTIES: Readonly<Record<string, string>> = Object.freeze({});
/** The `keys` of every decoded record that has none: shared, frozen (no array per record). */
const NO_KEYS: readonly string[] = Object.freeze([]);

/**
 * True when buf[position, position + length) holds exactly the characters of `known`, all ASCII
 * (so the bytes are the same in latin1 and UTF-8). Consecutive records of one answer mostly share
 * their topic and tag: comparing a few bytes is cheaper than decoding a new string each time.
 */
function sameAscii(buf: Buffer, position: number, length: number, known: string): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = known.charCodeAt(i);
    if (c > 0x7f || buf[position + i] !== c) return false;
  }
  return true;
}

function emptyRecord(): DecodedRecordView {
  return { size: 0, topic: '', queueId: 0, queueOffset: 0, physicalOffset: 0, storeTimestampMs: 0, messageId: '', keys: [], tag: '', properties: {}, body: Buffer.alloc(0), bornTimestampMs: 0, flags: 0 };
}

/** Throws the CORRUPT_RECORD that readRecordInto gives for a record that fails its checks. */
function corruptRecord(buf: Buffer, position: number): ConveyorError {
  const check = checkRecordAt(buf, position, Number.POSITIVE_INFINITY);
  const reason = check.kind === 'corrupt' ? check.reason : check.kind === 'incomplete' ? 'record is truncated' : check.kind === 'padding' ? 'padding, not a message record' : 'a field runs past the record end';
  return new ConveyorError(ErrorCode.CORRUPT_RECORD, `cannot decode record at position ${position}: ${reason}`, { position });
}

/** `position + length` when that stays within the record (ends at `end`); throws CORRUPT_RECORD otherwise. */
function fieldEnd(buf: Buffer, recordStart: number, position: number, length: number, end: number): number {
  const after = position + length;
  if (after > end) throw corruptRecord(buf, recordStart);
  return after;
}

/**
 * Checks the record at `position` (the same checks as checkRecordAt: magic, length bounds, CRC)
 * and reads every field into `into` (overwriting it); no other object is allocated besides the
 * field values (the consume hot path: no check result, no field reader per record). `body` is a
 * view into `buf`; a record without properties gets the shared frozen NO_PROPERTIES. Throws
 * CORRUPT_RECORD.
 */
function readRecordInto(buf: Buffer, position: number, into: DecodedRecordView): void {
  const available = buf.length - position;
  if (available < RECORD_HEADER_BYTES || buf[position + 8] !== RECORD_MAGIC) throw corruptRecord(buf, position);
  const size = buf.readUInt32BE(position);
  if (size < RECORD_OVERHEAD_BYTES + 1 || size > RECORD_BYTES_MAX || size > available) throw corruptRecord(buf, position);
  if (crc32c(buf.subarray(position + RECORD_CRC_START, position + size)) !== buf.readUInt32BE(position + 4)) throw corruptRecord(buf, position);
  const end = position + size;
  into.size = size;
  let p = position + RECORD_HEADER_BYTES;
  // `into` still holds the previous record: its topic and tag strings are reused when the bytes match.
  const topicLength = buf[p]!;
  let after = fieldEnd(buf, position, p + 1, topicLength, end);
  if (!sameAscii(buf, p + 1, topicLength, into.topic)) into.topic = buf.toString('latin1', p + 1, after);
  p = fieldEnd(buf, position, after, 1, end);
  after = fieldEnd(buf, position, p, buf[after]!, end);
  into.messageId = buf.toString('utf8', p, after);
  p = fieldEnd(buf, position, after, 1, end);
  const keyCount = buf[after]!;
  if (keyCount === 0) {
    into.keys = NO_KEYS as string[];
  } else {
    const keys: string[] = [];
    for (let i = 0; i < keyCount; i++) {
      const start = fieldEnd(buf, position, p, 2, end);
      p = fieldEnd(buf, position, start, buf.readUInt16BE(p), end);
      keys.push(buf.toString('utf8', start, p));
    }
    into.keys = keys;
  }
  const tagStart = fieldEnd(buf, position, p, 2, end);
  const tagLength = buf.readUInt16BE(p);
  p = fieldEnd(buf, position, tagStart, tagLength, end);
  if (!sameAscii(buf, tagStart, tagLength, into.tag)) into.tag = buf.toString('utf8', tagStart, p);
  into.queueId = buf.readUInt32BE(position + POSITION_QUEUE_ID);
  into.queueOffset = readU64(buf, position + POSITION_QUEUE_OFFSET);
  into.physicalOffset = readU64(buf, position + POSITION_PHYSICAL_OFFSET);
  into.storeTimestampMs = readU64(buf, position + POSITION_STORE_TIMESTAMP);
  into.flags = buf.readUInt32BE(position + POSITION_FLAGS);
  into.bornTimestampMs = readU64(buf, position + POSITION_BORN_TIMESTAMP);
  after = fieldEnd(buf, position, p, 2, end);
  const propertyCount = buf.readUInt16BE(p);
  p = after;
  if (propertyCount === 0) {
    into.properties = NO_PROPERTIES as Record<string, string>;
  } else {
    const properties: Record<string, string> = {};
    for (let i = 0; i < propertyCount; i++) {
      let start = fieldEnd(buf, position, p, 2, end);
      p = fieldEnd(buf, position, start, buf.readUInt16BE(p), end);
      const name = buf.toString('utf8', start, p);
      start = fieldEnd(buf, position, p, 2, end);
      p = fieldEnd(buf, position, start, buf.readUInt16BE(p), end);
      properties[name] = buf.toString('utf8', start, p);
    }
    into.properties = properties;
  }
  const bodyStart = fieldEnd(buf, position, p, 4, end);
  into.body = buf.subarray(bodyStart, fieldEnd(buf, position, bodyStart, buf.readUInt32BE(p), end));
}

export function decodeRecord(buf: Buffer, position = 0): DecodedRecordView {
  const record = emptyRecord();
  readRecordInto(buf, position, record);
  return record;
}

/**
 * Calls `make` for each message record of a concatenation of records (skipping padding) with one
 * scratch record that is overwritten for the next: `make` must copy what it keeps (its `keys`,
 * `properties` and `body` values are fresh per record and may be kept). The consume hot path.
 */
export function mapRecords<T>(buf: Buffer, make: (record: Readonly<DecodedRecordView>) => T): T[] {
  const out: T[] = [];
  const scratch = emptyRecord();
  let position = 0;
  while (position < buf.length) {
    if (buf.length - position >= 9 && buf[position + 8] === PADDING_MAGIC) {
      position += paddingLength(buf, position);
      continue;
    }
    readRecordInto(buf, position, scratch);
    position += scratch.size;
    out.push(make(scratch));
  }
  return out;
}

function paddingLength(buf: Buffer, position: number): number {
  const length = buf.readUInt32BE(position);
  if (length < PADDING_HEADER_BYTES) throw new ConveyorError(ErrorCode.CORRUPT_RECORD, `padding at position ${position} is shorter than its header`, { position });
  return length;
}

/** Iterates the message records in a concatenation of records (a pull answer, a replication chunk); skips padding. */
export function* decodeRecords(buf: Buffer): Generator<DecodedRecordView> {
  let position = 0;
  while (position < buf.length) {
    if (buf.length - position >= 9 && buf[position + 8] === PADDING_MAGIC) {
      position += paddingLength(buf, position);
      continue;
    }
    const record = decodeRecord(buf, position);
    position += record.size;
    yield record;
  }
}

function fnv1a32(bytes: Buffer): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The 8-byte tag hash of consume-queue entries as two u32 halves: CRC32C and FNV-1a of the UTF-8 tag. Empty tag → 0, 0. */
export function tagHashParts(tag: string): { high: number; low: number } {
  if (tag.length === 0) return { high: 0, low: 0 };
  const bytes = Buffer.from(tag, 'utf8');
  return { high: crc32c(bytes), low: fnv1a32(bytes) };
}

export function tagHash(tag: string): bigint {
  const { high, low } = tagHashParts(tag);
  return (BigInt(high) << 32n) | BigInt(low);
}
