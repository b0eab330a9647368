// Validation at the edge: every request field is checked before anything changes, and each
// problem is a ConveyorError with a stable code and a message naming the field and the limit.
// Sizes and counts are the ones of common/limits.ts, measured by the record codec (common/record.ts),
// so the broker accepts exactly what the store can encode.
import { ConveyorError, ErrorCode } from '../common/errors.js';
import { MESSAGE_ID_BYTES_MAX } from '../common/limits.js';
import { isSystemTopic, SYSTEM_TOPIC_PREFIX, validateName } from '../common/names.js';
import { measureBatch, type RecordMessage } from '../common/record.js';
import { conveyor } from '../proto/index.js';
import { CLIENT_ID_LENGTH_MAX } from './consumers/consumer-groups.js';

/** Queue counts of a topic: RocketMQ's practical range; more queues than this is a misconfiguration. */
export const QUEUE_COUNT_MAX = 1024;
/** Permission bits (common.proto): 4 readable, 2 writable. */
export const PERM_READ = 4;
export const PERM_WRITE = 2;
export const PERM_READ_WRITE = PERM_READ | PERM_WRITE;

function invalidArgument(message: string, fields: Record<string, string | number> = {}): ConveyorError {
  return new ConveyorError(ErrorCode.INVALID_ARGUMENT, message, fields);
}

/**
 * A send's messages as the store takes them. A decoded wire message already has that shape (every
 * field set, defaults from its prototype) and is used as it is; anything else is copied with
 * defaults for missing fields.
 */
export function toRecordMessages(messages: readonly conveyor.IMessageInput[]): RecordMessage[] {
  const out = new Array<RecordMessage>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    out[i] = isCompleteWireMessage(m) ? m : {
      messageId: m.messageId ?? '',
      keys: m.keys ?? [],
      tag: m.tag ?? '',
      properties: m.properties ?? {},
      body: m.body ?? new Uint8Array(0),
      bornTimestampMs: m.bornTimestampMs ?? 0,
      flags: m.flags ?? 0,
    };
  }
  return out;
}

function isCompleteWireMessage(m: conveyor.IMessageInput): m is conveyor.MessageInput {
  return m instanceof conveyor.MessageInput && m.messageId != null && m.keys != null && m.tag != null && m.properties != null && m.body != null && m.bornTimestampMs != null && m.flags != null;
}

/**
 * Checks a producer's send batch: topic name, not a system topic (ACCESS_DENIED), producer-group
 * name, then everything validateAppendBatch checks. Returns the record size of each message.
 */
export function validateSendBatch(topic: string, producerGroup: string, messages: readonly RecordMessage[]): number[] {
  validateName('topic', topic);
  refuseSystemTopic(topic, 'send to');
  if (producerGroup !== '') validateName('producer group', producerGroup);
  return validateMessages(topic, messages);
}

/**
 * Checks a batch for the Appender (any topic, system topics included): topic name, a non-empty
 * batch within its count and byte bounds, and every message (id, keys, tag, properties, body).
 * Returns the record size of each message.
 */
export function validateAppendBatch(topic: string, messages: readonly RecordMessage[]): number[] {
  validateName('topic', topic);
  return validateMessages(topic, messages);
}

function validateMessages(topic: string, messages: readonly RecordMessage[]): number[] {
  if (messages.length === 0) throw invalidArgument('the send has no messages; a batch holds 1 or more', { field: 'messages' });
  for (let i = 0; i < messages.length; i++) validateMessageFields(messages[i]!, i);
  return measureBatch(topic, messages);
}

/**
 * Throws ACCESS_DENIED for a system topic (common/names.ts SYSTEM_TOPIC_PREFIX): only the broker
 * writes, creates and deletes those (broker/append/system-topics.ts); consumers may read them.
 */
export function refuseSystemTopic(topic: string, action: 'send to' | 'create or change' | 'delete'): void {
  if (!isSystemTopic(topic)) return;
  throw new ConveyorError(
    ErrorCode.ACCESS_DENIED,
    `topic '${topic.slice(0, 40)}' is a system topic (prefix ${SYSTEM_TOPIC_PREFIX}): only the broker may ${action} it; use a topic name without that prefix`,
    { topic, prefix: SYSTEM_TOPIC_PREFIX, reason: 'system-topic' },
  );
}

/** What the codec does not check: non-empty ids and keys, tags that a tag expression can select. */
function validateMessageFields(message: RecordMessage, index: number): void {
  const id = message.messageId;
  if (id.length === 0) throw invalidArgument(`message ${index} has an empty message id; the producer must set a unique id`, { index, field: 'messageId' });
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short ids need no native byte count.
  if (id.length * 3 > MESSAGE_ID_BYTES_MAX && Buffer.byteLength(id, 'utf8') > MESSAGE_ID_BYTES_MAX) {
    throw invalidArgument(`message ${index} has a message id of ${Buffer.byteLength(id, 'utf8')} bytes, over the limit of ${MESSAGE_ID_BYTES_MAX}`, { index, field: 'messageId', max: MESSAGE_ID_BYTES_MAX });
  }
  for (const key of message.keys) {
    if (key.length === 0) throw invalidArgument(`message ${index} has an empty key; leave keys out instead`, { index, field: 'keys' });
  }
  if (/[|\s]/.test(message.tag)) {
    throw invalidArgument(`message ${index} has tag '${message.tag.slice(0, 40)}' with '|' or white space, which no tag expression could select`, { index, field: 'tag' });
  }
}

/** Throws QUEUE_NOT_FOUND unless 0 <= queueId < count. */
export function validateQueueId(topic: string, queueId: number, count: number, use: 'write' | 'read'): void {
  if (!Number.isInteger(queueId) || queueId < 0 || queueId >= count) {
    throw new ConveyorError(
      ErrorCode.QUEUE_NOT_FOUND,
      `topic '${topic}' has ${count} ${use} queues on this broker (ids 0 to ${count - 1}); queue ${queueId} does not exist`,
      { topic, queueId, queueCount: count },
    );
  }
}

export function validateQueueOffset(queueOffset: number, field = 'queueOffset'): void {
  if (!Number.isSafeInteger(queueOffset) || queueOffset < 0) throw invalidArgument(`${field} ${queueOffset} must be a whole number >= 0`, { field });
}

export function validateClientId(clientId: string): void {
  if (clientId.length === 0) throw invalidArgument('client id is empty; every consumer sends a stable id', { field: 'clientId' });
  if (clientId.length > CLIENT_ID_LENGTH_MAX) throw invalidArgument(`client id is ${clientId.length} characters, over the limit of ${CLIENT_ID_LENGTH_MAX}`, { field: 'clientId' });
}

function validateQueueCount(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1 || value > QUEUE_COUNT_MAX) {
    throw invalidArgument(`${field} ${value} is out of range: a topic has 1 to ${QUEUE_COUNT_MAX} queues`, { field, value, max: QUEUE_COUNT_MAX });
  }
}

/** A validated topic config with every field set. */
export interface TopicConfig {
  readonly topicName: string;
  readonly readQueueCount: number;
  readonly writeQueueCount: number;
  readonly perm: number;
  readonly ordered: boolean;
}

/**
 * Checks a topic config from UpsertTopic and fills what proto3 leaves at zero: perm 0 means "not
 * set" and becomes read+write (a topic nobody can read or write is not something anyone creates).
 */
export function validateTopicConfig(config: conveyor.ITopicConfig | null | undefined): TopicConfig {
  if (!config) throw invalidArgument('the topic config is missing', { field: 'config' });
  const topicName = validateName('topic', config.topicName);
  const readQueueCount = config.readQueueCount ?? 0;
  const writeQueueCount = config.writeQueueCount ?? 0;
  validateQueueCount(readQueueCount, 'readQueueCount');
  validateQueueCount(writeQueueCount, 'writeQueueCount');
  const perm = (config.perm ?? 0) === 0 ? PERM_READ_WRITE : (config.perm ?? 0);
  if ((perm & ~PERM_READ_WRITE) !== 0) {
    throw invalidArgument(`perm ${perm} is not valid: use 6 (read+write), 4 (read only) or 2 (write only)`, { field: 'perm', value: perm });
  }
  return { topicName, readQueueCount, writeQueueCount, perm, ordered: config.ordered ?? false };
}

/** Most retries a group may ask for before dead-lettering (RocketMQ's ceiling). */
const RETRY_MAX_TIMES_MAX = 32;

export function validateGroupConfig(config: conveyor.IGroupConfig | null | undefined): conveyor.IGroupConfig {
  if (!config) throw invalidArgument('the group config is missing', { field: 'config' });
  const groupName = validateName('consumer group', config.groupName);
  const retryMaxTimes = config.retryMaxTimes ?? 0;
  if (retryMaxTimes > RETRY_MAX_TIMES_MAX) throw invalidArgument(`retryMaxTimes ${retryMaxTimes} is over the limit of ${RETRY_MAX_TIMES_MAX}`, { field: 'retryMaxTimes' });
  return { groupName, consumeEnable: config.consumeEnable ?? false, retryMaxTimes, broadcast: config.broadcast ?? false };
}

export function isWritable(perm: number): boolean {
  return (perm & PERM_WRITE) !== 0;
}

export function isReadable(perm: number): boolean {
  return (perm & PERM_READ) !== 0;
}
