// Messages as the client API shows them: what a producer hands in (OutgoingMessage) and what a
// consumer or a lookup gets back (Message, decoded from stored records with common/record.ts).
import { mapRecords, measureBatch, measureRecord, type RecordMessage } from '../common/record.js';
import { ConveyorError, ErrorCode } from '../common/errors.js';
import { validateName } from '../common/names.js';
import { createMessageId, MESSAGE_ID_HEX_LENGTH, MESSAGE_ID_UNASSIGNED, validateMessageId } from '../common/message-id.js';

/** What a producer sends. A string body is sent as its UTF-8 bytes. */
export interface OutgoingMessage {
  body: Uint8Array | string;
  /** Business keys: indexed by the broker, found again with Admin.getMessagesByKey. */
  keys?: string[];
  /** One tag; consumers can filter on it (`a || b`). */
  tag?: string;
  properties?: Record<string, string>;
  /** Leave out to get a generated id; give one to make a re-send de-duplicate against the first. */
  messageId?: string;
}

/** A stored message, as pulled or looked up. */
export interface Message {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly messageId: string;
  readonly keys: readonly string[];
  readonly tag: string;
  readonly properties: Readonly<Record<string, string>>;
  /** The body bytes; `body.toString()` gives UTF-8 text. */
  readonly body: Buffer;
  readonly bornTimestampMs: number;
  readonly storeTimestampMs: number;
  readonly flags: number;
}

/**
 * A message ready for the wire, its id fixed (kept across retries) — or, for a coalesced send,
 * MESSAGE_ID_UNASSIGNED until its first RPC is formed (prepareMessageDeferringId).
 */
export type PreparedMessage = RecordMessage;

/**
 * Validates and fixes one outgoing message: id (generated unless given), body bytes, born
 * timestamp. Throws INVALID_NAME / INVALID_ARGUMENT / MESSAGE_TOO_LARGE / TOO_MANY_PROPERTIES
 * before anything is sent, with the limits of common/limits.ts (the broker checks the same).
 */
export function prepareMessage(topic: string, message: OutgoingMessage, nowMs: number): PreparedMessage {
  validateName('topic', topic);
  const prepared = toRecordMessage(message, nowMs, false);
  measureRecord(topic, prepared);
  return prepared;
}

/**
 * prepareMessage for a send that is coalesced: a message without a user id gets
 * MESSAGE_ID_UNASSIGNED, and its generated id when its RPC is formed (common/message-id.ts
 * assignMessageIds), so the ids of one RPC are consecutive. Every limit is checked here all the
 * same: a generated id has a fixed length (preparedRecordBytes counts it).
 */
export function prepareMessageDeferringId(topic: string, message: OutgoingMessage, nowMs: number): PreparedMessage {
  validateName('topic', topic);
  const prepared = toRecordMessage(message, nowMs, true);
  measureRecord(topic, prepared);
  return prepared;
}

/** The record size of a prepared message, counting a generated id not assigned yet at its fixed length. */
export function preparedRecordBytes(topic: string, message: PreparedMessage): number {
  return measureRecord(topic, message) + (message.messageId === MESSAGE_ID_UNASSIGNED ? MESSAGE_ID_HEX_LENGTH : 0);
}

/** Same as prepareMessage for a batch; also checks the batch count and byte limits (BATCH_TOO_LARGE). */
export function prepareBatch(topic: string, messages: readonly OutgoingMessage[], nowMs: number): PreparedMessage[] {
  validateName('topic', topic);
  const prepared = messages.map((m) => toRecordMessage(m, nowMs, false));
  measureBatch(topic, prepared);
  return prepared;
}

function toRecordMessage(message: OutgoingMessage, nowMs: number, deferId: boolean): RecordMessage {
  // The same field rules the broker applies (broker/validate.ts), checked before anything is sent.
  const tag = message.tag ?? '';
  if (/[|\s]/.test(tag)) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `tag '${tag.slice(0, 40)}' has '|' or white space, which no tag expression could select`, { field: 'tag' });
  }
  if ((message.keys ?? []).some((k) => k.length === 0)) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'a message key is empty; leave keys out instead', { field: 'keys' });
  }
  if (message.body === undefined || message.body === null) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'a message needs a body (a string or bytes; it may be empty)', { field: 'body' });
  }
  const body = typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : message.body;
  return {
    messageId: message.messageId !== undefined ? validateMessageId(message.messageId) : deferId ? MESSAGE_ID_UNASSIGNED : createMessageId(),
    keys: [...(message.keys ?? [])],
    tag,
    properties: { ...(message.properties ?? {}) },
    body,
    bornTimestampMs: nowMs,
    flags: 0,
  };
}

/**
 * Decodes the concatenated stored records of a pull or query answer, building each Message in
 * one object (no intermediate record). Each `body` is a view into `records`, not a copy: the
 * answer's buffer stays alive while any of its messages' bodies is referenced (copy with
 * `Buffer.from(message.body)` to keep one body of a large answer). Messages without properties
 * share one frozen empty object. Throws CORRUPT_RECORD.
 */
export function messagesFromRecords(records: Uint8Array, brokerName: string): Message[] {
  if (records.byteLength === 0) return [];
  const buf = Buffer.isBuffer(records) ? records : Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  return mapRecords(buf, (record): Message => ({
    topic: record.topic,
    brokerName,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    physicalOffset: record.physicalOffset,
    messageId: record.messageId,
    keys: record.keys,
    tag: record.tag,
    properties: record.properties,
    body: record.body,
    bornTimestampMs: record.bornTimestampMs,
    storeTimestampMs: record.storeTimestampMs,
    flags: record.flags,
  }));
}
