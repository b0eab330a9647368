// Message ids (DESIGN.md §1): unique, kept across retries, the key the broker de-duplicates on.
// The one definition of their format, for the client that generates them and the broker and
// store that parse them. Generated ids are 32 lowercase hex characters =
//   12 hex  milliseconds since the Unix epoch (48 bits; sorts by creation time)
//   12 hex  random per generator (48 bits, from crypto; tells processes apart)
//    8 hex  counter per generator (32 bits, wraps; tells ids of one generator apart)
// A user may supply an id of its own instead (validateMessageId).
import { randomBytes } from 'node:crypto';
import { ConveyorError, ErrorCode } from './errors.js';
import { MESSAGE_ID_BYTES_MAX } from './limits.js';

/** Characters of a generated ("generator-format") id. */
export const MESSAGE_ID_HEX_LENGTH = 32;
/** Where the instance part of a generated id starts (after 12 hex of time). */
const INSTANCE_START = 12;
/** Where the counter part starts (after 12 hex of instance). */
const COUNTER_START = 24;
/** Ids a user supplies: printable, bounded so the broker's de-duplication window stays small (one byte per character). */
const MESSAGE_ID_LENGTH_MAX = MESSAGE_ID_BYTES_MAX;
const USER_ID_PATTERN = /^[\x21-\x7e]+$/;
const COUNTER_MODULUS = 0x1_0000_0000;

/** Two lowercase hex digits for each byte value. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export class MessageIdGenerator {
  private readonly instanceHex: string;
  private counter: number;
  /** The id's first 24 characters (time + instance) for `prefixTimeMs`: rebuilt once per millisecond, not per id. */
  private prefix = '';
  private prefixTimeMs = -1;
  /** The counter's top 16 bits as hex, rebuilt when they change (every 65,536 ids). */
  private counterHigh = '';
  private counterHighValue = -1;

  constructor(private readonly now: () => number = Date.now, random: (bytes: number) => Buffer = randomBytes) {
    const seed = random(10);
    this.instanceHex = seed.subarray(0, 6).toString('hex');
    // Start the counter at a random point so two generators seeded alike still differ in time.
    this.counter = seed.readUInt32BE(6);
  }

  next(): string {
    const time = Math.max(0, Math.floor(this.now())) % 2 ** 48;
    if (time !== this.prefixTimeMs) {
      this.prefixTimeMs = time;
      this.prefix = time.toString(16).padStart(12, '0') + this.instanceHex;
    }
    const counter = (this.counter + 1) % COUNTER_MODULUS;
    this.counter = counter;
    const high = counter >>> 16;
    if (high !== this.counterHighValue) {
      this.counterHighValue = high;
      this.counterHigh = HEX_BYTE[high >>> 8]! + HEX_BYTE[high & 0xff]!;
    }
    return this.prefix + this.counterHigh + HEX_BYTE[(counter >>> 8) & 0xff]! + HEX_BYTE[counter & 0xff]!;
  }
}

const shared = new MessageIdGenerator();

/** A fresh id from the process-wide generator. */
export function createMessageId(): string {
  return shared.next();
}

/**
 * The id of a prepared message whose generated id is given only when its RPC is formed
 * (assignMessageIds): never sent, and never a valid user id (validateMessageId refuses '').
 */
export const MESSAGE_ID_UNASSIGNED = '';

/**
 * Gives every message still without an id (MESSAGE_ID_UNASSIGNED) the process-wide generator's
 * next ids, in order: the ids of one RPC are consecutive counters of one generator, which the
 * broker remembers as one run (broker/dedup/id-runs.ts) instead of one entry per id. A message that
 * already has an id (a user id, or one given to an earlier attempt) keeps it, so a retry carries
 * the same id (the broker de-duplicates on it). Returns how many ids were given.
 */
export function assignMessageIds(messages: ReadonlyArray<{ messageId: string }>): number {
  let assigned = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (message.messageId === MESSAGE_ID_UNASSIGNED) {
      message.messageId = shared.next();
      assigned++;
    }
  }
  return assigned;
}

/** The creation time encoded in an id this library generated (undefined for user-supplied ids). */
export function messageIdTimestampMs(id: string): number | undefined {
  return /^[0-9a-f]{32}$/.test(id) ? parseInt(id.slice(0, 12), 16) : undefined;
}

/** Checks an id a user supplied: 1 to 128 printable ASCII characters, no spaces. */
export function validateMessageId(id: string): string {
  if (id.length === 0 || id.length > MESSAGE_ID_LENGTH_MAX || !USER_ID_PATTERN.test(id)) {
    throw new ConveyorError(
      ErrorCode.INVALID_ARGUMENT,
      `invalid message id '${id.slice(0, 40)}': use 1 to ${MESSAGE_ID_LENGTH_MAX} printable ASCII characters without spaces, or leave it out to get a generated one`,
      { messageId: id.slice(0, 40) },
    );
  }
  return id;
}

/** 0–15 for a lowercase hex digit, -1 otherwise. */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * The generator instance (48 bits) of a generator-format id, or -1 for any other id. "Generator
 * format" here is 32 characters whose instance and counter parts are lowercase hex: the time part
 * is not looked at (the broker's id runs ignore it; its store index decides), and every check in
 * the broker uses this one definition. No allocation.
 */
export function generatorInstance(id: string): number {
  if (id.length !== MESSAGE_ID_HEX_LENGTH) return -1;
  let value = 0;
  for (let i = INSTANCE_START; i < COUNTER_START; i++) {
    const digit = hexValue(id.charCodeAt(i));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** The counter (32 bits) of a generator-format id, or -1 for any other id. No allocation. */
export function generatorCounter(id: string): number {
  if (id.length !== MESSAGE_ID_HEX_LENGTH) return -1;
  let value = 0;
  for (let i = COUNTER_START; i < MESSAGE_ID_HEX_LENGTH; i++) {
    const digit = hexValue(id.charCodeAt(i));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** Whether two ids of generator length have the same instance part, compared by characters (no parse, no allocation). */
export function sameGeneratorInstance(id: string, other: string): boolean {
  for (let i = INSTANCE_START; i < COUNTER_START; i++) if (id.charCodeAt(i) !== other.charCodeAt(i)) return false;
  return true;
}
