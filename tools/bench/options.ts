// Reading and checking the `conveyor bench` options (pure). Commander hands over strings; this
// turns them into typed, bounded options or throws INVALID_ARGUMENT listing every problem at once,
// each naming its flag, before anything connects or sends.
import { COALESCE_RPCS_IN_FLIGHT_DEFAULT, COALESCE_RPCS_IN_FLIGHT_MAX } from '../../client/producer/send-coalescer.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { isValidName } from '../../common/names.js';
import { BATCH_BYTES_MAX, BATCH_MESSAGE_COUNT_MAX, MESSAGE_BODY_BYTES_MAX } from '../../common/limits.js';

/** Default body size: the 1 KiB messages of issue 6's targets. */
export const SIZE_BYTES_DEFAULT = 1024;
/** Default run length when neither --count nor --duration-s is given. */
export const DURATION_S_DEFAULT = 10;
/** Longest run: a benchmark is bounded in time (the 10-minute RSS soak is the longest case). */
const DURATION_S_MAX = 3_600;
/** Most messages one run sends or expects. */
const COUNT_MAX = 1_000_000_000;
/** A --count run that has not finished after this long stops anyway and says so. */
export const TIMEOUT_S_DEFAULT = 600;
/** Producers (each its own client and connections): beyond this a 2-core machine only contends. */
const PRODUCERS_MAX = 64;
/** Sends (RPCs) outstanding per producer. */
export const IN_FLIGHT_DEFAULT = 256;
const IN_FLIGHT_MAX = 10_000;
/** Bytes of message bodies outstanding across all producers: in-flight × batch × size × producers. */
const IN_FLIGHT_BYTES_MAX = 1024 * 1024 * 1024;
/** Queues of a topic the produce bench creates; the broker's own limit is the same (broker/validate.ts). */
export const QUEUES_DEFAULT = 8;
const QUEUES_MAX = 1_024;
/** e2e: sends per second. Above this one client process cannot pace single sends on a timer. */
const RATE_DEFAULT = 2_000;
const RATE_MAX = 200_000;
const E2E_DURATION_S_DEFAULT = 30;
/**
 * e2e: seconds sent at --rate before the measured phase (0: none). Fresh processes run their first
 * seconds in V8's interpreter and baseline code; the suite warms up for 5 s (docs/performance.md).
 */
const E2E_WARMUP_S_DEFAULT = 0;
const E2E_WARMUP_S_MAX = 600;
/** e2e body layout: send time (float64), run token (8 bytes), phase byte; the rest is filler. */
export const E2E_SIZE_MIN = 32;
/** e2e: sends not yet acknowledged; past this the pacer records a missed slot instead of queueing. */
const E2E_IN_FLIGHT_DEFAULT = 1_000;
/** consume: stop once nothing arrived for this long after the first message (the backlog is drained). */
const IDLE_STOP_S_DEFAULT = 5;
/** consume: without --count or --duration-s the run reads until drained (idle), at most this long. */
const CONSUME_DURATION_S_DEFAULT = 60;

export type StopCondition = { kind: 'count'; count: number; timeoutMs: number } | { kind: 'duration'; durationMs: number };

export interface ProduceOptions {
  topic: string;
  sizeBytes: number;
  stop: StopCondition;
  batch: number;
  producers: number;
  inFlight: number;
  queues: number;
  /** The producers' rpcsInFlightPerQueue (coalesced single sends only). */
  rpcsPerQueue: number;
  json: boolean;
}

export interface ConsumeOptions {
  topic: string;
  group: string;
  stop: StopCondition;
  /** 0: never stop for idleness. */
  idleStopMs: number;
  json: boolean;
}

export interface E2eOptions {
  topic: string;
  group: string;
  ratePerS: number;
  durationMs: number;
  /** Sent at ratePerS before the measured phase; their latency is reported apart (details.warmup*). */
  warmupMs: number;
  sizeBytes: number;
  inFlight: number;
  queues: number;
  /** The producer's rpcsInFlightPerQueue. */
  rpcsPerQueue: number;
  json: boolean;
}

/** Flag values as commander gives them (strings, or undefined when absent). */
export type RawOptions = Record<string, string | boolean | undefined>;

class Problems {
  readonly list: string[] = [];

  int(raw: RawOptions, key: string, flag: string, fallback: number, min: number, max: number): number {
    const value = raw[key];
    if (value === undefined) return fallback;
    const text = String(value).trim().replaceAll('_', '');
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n)) {
      this.list.push(`${flag}: '${String(value)}' is not a whole number`);
      return fallback;
    }
    if (n < min || n > max) {
      this.list.push(`${flag}: ${n} is outside ${min}…${max}`);
      return fallback;
    }
    return n;
  }

  name(raw: RawOptions, key: string, flag: string, fallback?: string): string {
    const value = raw[key];
    if (value === undefined || value === true) {
      if (fallback !== undefined) return fallback;
      this.list.push(`${flag} is required`);
      return '';
    }
    const text = String(value);
    if (!isValidName(text)) this.list.push(`${flag}: '${text.slice(0, 40)}' is not a valid name (1 to 127 of A-Z a-z 0-9 _ % -)`);
    return text;
  }

  stop(raw: RawOptions, defaultDurationS: number): StopCondition {
    if (raw.count !== undefined && raw.durationS !== undefined) {
      this.list.push('--count and --duration-s: give one of them, not both');
    }
    if (raw.count !== undefined) {
      const count = this.int(raw, 'count', '--count', 1, 1, COUNT_MAX);
      const timeoutMs = this.int(raw, 'timeoutS', '--timeout-s', TIMEOUT_S_DEFAULT, 1, DURATION_S_MAX) * 1000;
      return { kind: 'count', count, timeoutMs };
    }
    return { kind: 'duration', durationMs: this.int(raw, 'durationS', '--duration-s', defaultDurationS, 1, DURATION_S_MAX) * 1000 };
  }

  throwIfAny(command: string): void {
    if (this.list.length > 0) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `invalid options for 'conveyor bench ${command}':\n  - ${this.list.join('\n  - ')}`, { problems: this.list.join('\n') });
    }
  }
}

export function parseProduceOptions(raw: RawOptions): ProduceOptions {
  const p = new Problems();
  const topic = p.name(raw, 'topic', '--topic');
  const sizeBytes = p.int(raw, 'size', '--size', SIZE_BYTES_DEFAULT, 1, MESSAGE_BODY_BYTES_MAX);
  const stop = p.stop(raw, DURATION_S_DEFAULT);
  const batch = p.int(raw, 'batch', '--batch', 1, 1, BATCH_MESSAGE_COUNT_MAX);
  const producers = p.int(raw, 'producers', '--producers', 1, 1, PRODUCERS_MAX);
  const inFlight = p.int(raw, 'inFlight', '--in-flight', IN_FLIGHT_DEFAULT, 1, IN_FLIGHT_MAX);
  const queues = p.int(raw, 'queues', '--queues', QUEUES_DEFAULT, 1, QUEUES_MAX);
  const rpcsPerQueue = p.int(raw, 'rpcsPerQueue', '--rpcs-per-queue', COALESCE_RPCS_IN_FLIGHT_DEFAULT, 1, COALESCE_RPCS_IN_FLIGHT_MAX);
  if (p.list.length === 0) {
    // The record overhead (ids, topic, prefixes) is well under 1 KiB; the body is what counts.
    if (batch * sizeBytes > BATCH_BYTES_MAX) {
      p.list.push(`--batch × --size: ${batch} × ${sizeBytes} bytes is over the ${BATCH_BYTES_MAX}-byte batch limit; lower one of them`);
    }
    const outstanding = producers * inFlight * batch * sizeBytes;
    if (outstanding > IN_FLIGHT_BYTES_MAX) {
      p.list.push(`--producers × --in-flight × --batch × --size: ${outstanding} bytes outstanding is over ${IN_FLIGHT_BYTES_MAX}; lower one of them`);
    }
    if (stop.kind === 'count' && stop.count < batch) {
      p.list.push(`--count (${stop.count}) is smaller than --batch (${batch})`);
    }
  }
  p.throwIfAny('produce');
  return { topic, sizeBytes, stop, batch, producers, inFlight, queues, rpcsPerQueue, json: raw.json === true };
}

export function parseConsumeOptions(raw: RawOptions): ConsumeOptions {
  const p = new Problems();
  const topic = p.name(raw, 'topic', '--topic');
  const group = p.name(raw, 'group', '--group');
  const stop = p.stop(raw, CONSUME_DURATION_S_DEFAULT);
  const idleStopMs = p.int(raw, 'idleS', '--idle-s', IDLE_STOP_S_DEFAULT, 0, DURATION_S_MAX) * 1000;
  p.throwIfAny('consume');
  return { topic, group, stop, idleStopMs, json: raw.json === true };
}

export function parseE2eOptions(raw: RawOptions, defaultGroup: string): E2eOptions {
  const p = new Problems();
  const topic = p.name(raw, 'topic', '--topic');
  const group = p.name(raw, 'group', '--group', defaultGroup);
  const ratePerS = p.int(raw, 'rate', '--rate', RATE_DEFAULT, 1, RATE_MAX);
  const durationMs = p.int(raw, 'durationS', '--duration-s', E2E_DURATION_S_DEFAULT, 1, DURATION_S_MAX) * 1000;
  const warmupMs = p.int(raw, 'warmupS', '--warmup-s', E2E_WARMUP_S_DEFAULT, 0, E2E_WARMUP_S_MAX) * 1000;
  const sizeBytes = p.int(raw, 'size', '--size', SIZE_BYTES_DEFAULT, E2E_SIZE_MIN, MESSAGE_BODY_BYTES_MAX);
  const inFlight = p.int(raw, 'inFlight', '--in-flight', E2E_IN_FLIGHT_DEFAULT, 1, IN_FLIGHT_MAX);
  const queues = p.int(raw, 'queues', '--queues', QUEUES_DEFAULT, 1, QUEUES_MAX);
  const rpcsPerQueue = p.int(raw, 'rpcsPerQueue', '--rpcs-per-queue', COALESCE_RPCS_IN_FLIGHT_DEFAULT, 1, COALESCE_RPCS_IN_FLIGHT_MAX);
  if (raw.count !== undefined) p.list.push('--count: e2e runs for --duration-s at --rate; it takes no count');
  p.throwIfAny('e2e');
  return { topic, group, ratePerS, durationMs, warmupMs, sizeBytes, inFlight, queues, rpcsPerQueue, json: raw.json === true };
}
