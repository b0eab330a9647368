// The producer's SendRequest encoder: the same bytes as the generated protobuf encoder
// (proto/broker.proto SendRequest, fields in number order, defaults left out), written into one
// buffer sized up front. protobufjs's writer builds a list of operations per field and joins them
// at the end; for a batch of 128 messages that is over a thousand objects per RPC, which showed as
// the producer's encode and GC time (docs/performance.md, send path). Pure.
import { varintBytes, writeVarint } from '../../common/varint.js';
import type { PreparedMessage } from '../message.js';

/** What the producer sends: the wire SendRequest with prepared messages. */
export interface SendRequestInput {
  topic: string;
  queueId: number;
  producerGroup: string;
  messages: readonly PreparedMessage[];
  acceptsStoredBatch: boolean;
}

// Field keys: (field number << 3) | wire type (0 varint, 2 length-delimited).
const SEND_REQUEST_TOPIC = 0x0a;
const SEND_REQUEST_QUEUE_ID = 0x10;
const SEND_REQUEST_PRODUCER_GROUP = 0x1a;
const SEND_REQUEST_MESSAGE = 0x22;
const SEND_REQUEST_ACCEPTS_STORED_BATCH = 0x28;
const MESSAGE_ID = 0x0a;
const MESSAGE_KEY = 0x12;
const MESSAGE_TAG = 0x1a;
const MESSAGE_PROPERTY = 0x22;
const PROPERTY_NAME = 0x0a;
const PROPERTY_VALUE = 0x12;
const MESSAGE_BODY = 0x2a;
const MESSAGE_BORN_TIMESTAMP = 0x30;
const MESSAGE_FLAGS = 0x38;

/** UTF-8 length of a string, as Buffer.byteLength (lone surrogates count 3, as they encode to U+FFFD). */
function utf8Length(value: string): number {
  const length = value.length;
  let ascii = true;
  for (let i = 0; i < length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? length : Buffer.byteLength(value, 'utf8');
}

/** A length-delimited string field: key, length, bytes. */
function stringFieldBytes(value: string): number {
  const bytes = utf8Length(value);
  return 1 + varintBytes(bytes) + bytes;
}

function writeStringField(buf: Buffer, position: number, key: number, value: string): number {
  buf[position++] = key;
  const bytes = utf8Length(value);
  position = writeVarint(buf, position, bytes);
  if (bytes === value.length) {
    for (let i = 0; i < bytes; i++) buf[position + i] = value.charCodeAt(i);
  } else {
    buf.write(value, position, bytes, 'utf8');
  }
  return position + bytes;
}

function propertyEntryBytes(name: string, value: string): number {
  return stringFieldBytes(name) + stringFieldBytes(value);
}

/** The encoded MessageInput, without its own key and length. */
function messageBytes(message: PreparedMessage): number {
  let bytes = message.messageId === '' ? 0 : stringFieldBytes(message.messageId);
  for (const key of message.keys) bytes += stringFieldBytes(key);
  if (message.tag !== '') bytes += stringFieldBytes(message.tag);
  for (const name of Object.keys(message.properties)) {
    const entry = propertyEntryBytes(name, message.properties[name] ?? '');
    bytes += 1 + varintBytes(entry) + entry;
  }
  const body = message.body.length;
  if (body > 0) bytes += 1 + varintBytes(body) + body;
  if (message.bornTimestampMs !== 0) bytes += 1 + varintBytes(message.bornTimestampMs);
  if (message.flags !== 0) bytes += 1 + varintBytes(message.flags);
  return bytes;
}

function writeMessage(buf: Buffer, position: number, message: PreparedMessage): number {
  if (message.messageId !== '') position = writeStringField(buf, position, MESSAGE_ID, message.messageId);
  for (const key of message.keys) position = writeStringField(buf, position, MESSAGE_KEY, key);
  if (message.tag !== '') position = writeStringField(buf, position, MESSAGE_TAG, message.tag);
  for (const name of Object.keys(message.properties)) {
    const value = message.properties[name] ?? '';
    buf[position++] = MESSAGE_PROPERTY;
    position = writeVarint(buf, position, propertyEntryBytes(name, value));
    position = writeStringField(buf, position, PROPERTY_NAME, name);
    position = writeStringField(buf, position, PROPERTY_VALUE, value);
  }
  const body = message.body;
  if (body.length > 0) {
    buf[position++] = MESSAGE_BODY;
    position = writeVarint(buf, position, body.length);
    buf.set(body, position);
    position += body.length;
  }
  if (message.bornTimestampMs !== 0) {
    buf[position++] = MESSAGE_BORN_TIMESTAMP;
    position = writeVarint(buf, position, message.bornTimestampMs);
  }
  if (message.flags !== 0) {
    buf[position++] = MESSAGE_FLAGS;
    position = writeVarint(buf, position, message.flags);
  }
  return position;
}

/**
 * Encodes a SendRequest of prepared messages (prepareMessage/prepareBatch: non-negative integer
 * timestamps and flags) into one buffer, byte for byte what conveyor.SendRequest.encode writes
 * (except for strings with lone UTF-16 surrogates, which both make 3 bytes but spell differently;
 * either decodes on the broker).
 */
export function encodeSendRequest(request: SendRequestInput): Buffer {
  const { messages } = request;
  const sizes = new Array<number>(messages.length);
  let total = 0;
  if (request.topic !== '') total += stringFieldBytes(request.topic);
  if (request.queueId !== 0) total += 1 + varintBytes(request.queueId);
  if (request.producerGroup !== '') total += stringFieldBytes(request.producerGroup);
  for (let i = 0; i < messages.length; i++) {
    const size = messageBytes(messages[i]!);
    sizes[i] = size;
    total += 1 + varintBytes(size) + size;
  }
  if (request.acceptsStoredBatch) total += 2;
  const buf = Buffer.allocUnsafe(total);
  let position = 0;
  if (request.topic !== '') position = writeStringField(buf, position, SEND_REQUEST_TOPIC, request.topic);
  if (request.queueId !== 0) {
    buf[position++] = SEND_REQUEST_QUEUE_ID;
    position = writeVarint(buf, position, request.queueId);
  }
  if (request.producerGroup !== '') position = writeStringField(buf, position, SEND_REQUEST_PRODUCER_GROUP, request.producerGroup);
  for (let i = 0; i < messages.length; i++) {
    buf[position++] = SEND_REQUEST_MESSAGE;
    position = writeVarint(buf, position, sizes[i]!);
    const end = writeMessage(buf, position, messages[i]!);
    if (end - position !== sizes[i]) throw new Error(`assertion failed: message ${i} encoded to ${end - position} bytes, measured ${sizes[i]}`);
    position = end;
  }
  if (request.acceptsStoredBatch) {
    buf[position++] = SEND_REQUEST_ACCEPTS_STORED_BATCH;
    buf[position++] = 1;
  }
  if (position !== total) throw new Error(`assertion failed: send request encoded to ${position} bytes, measured ${total}`);
  return buf;
}
