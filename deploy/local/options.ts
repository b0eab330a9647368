// Reading and checking the launcher's options, from CLI flags (strings) or from code (numbers).
// Every problem is reported at once, each naming its option, and nothing is started.
import { resolve } from 'node:path';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { isValidName } from '../../common/names.js';
import {
  DEFAULT_BASE_PORT,
  DEFAULT_CLUSTER_DIR,
  DEFAULT_CLUSTER_NAME,
  FAST_BROKER_EXPIRY_MS,
  FAST_REGISTER_INTERVAL_MS,
  GROUPS_MAX,
  LOG_LEVELS,
  NAMESERVERS_MAX,
  SLAVES_MAX,
  highestPort,
  type ClusterOptions,
  type FlushMode,
  type LogLevel,
  type ReplicationMode,
} from './layout.js';

/** The dev default (issue 4): 1 nameserver, 2 broker groups of a master and 1 slave, auto-create on. */
const DEFAULT_NAMESERVERS = 1;
const DEFAULT_GROUPS = 2;
const DEFAULT_SLAVES = 1;
/** Lowest base port accepted: below 1024 are privileged ports, never what a local cluster wants. */
const BASE_PORT_MIN = 1_024;
/** Heartbeat settings a user may pass: a register interval under 100 ms would only burn CPU. */
const REGISTER_INTERVAL_MS_MIN = 100;
const BROKER_EXPIRY_MS_MIN = 500;

/** Options as a caller gives them: every field optional, numbers may arrive as CLI strings. */
export interface ClusterOptionsInput {
  dir?: string;
  nameservers?: number | string;
  groups?: number | string;
  slaves?: number | string;
  basePort?: number | string;
  host?: string;
  clusterName?: string;
  flush?: string;
  replication?: string;
  autoCreateTopics?: boolean;
  logLevel?: string;
  /** Shorthand for registerIntervalMs=1000 and brokerExpiryMs=3000 (explicit values win). */
  fastHeartbeats?: boolean;
  brokerExpiryMs?: number | string;
  registerIntervalMs?: number | string;
  nameserverArgs?: string[];
  brokerArgs?: string[];
}

function readInt(problems: string[], option: string, raw: number | string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    problems.push(`${option}: '${String(raw)}' is not a whole number`);
    return fallback;
  }
  if (n < min || n > max) {
    problems.push(`${option}: ${n} is outside ${min}…${max}`);
    return fallback;
  }
  return n;
}

function readOptionalInt(problems: string[], option: string, raw: number | string | undefined, min: number): number | null {
  if (raw === undefined) return null;
  return readInt(problems, option, raw, min, min, 86_400_000);
}

function readEnum<T extends string>(problems: string[], option: string, raw: string | undefined, values: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  const found = values.find((v) => v === raw);
  if (found === undefined) {
    problems.push(`${option}: '${raw}' is not one of ${values.join(', ')}`);
    return fallback;
  }
  return found;
}

/**
 * Fills defaults and validates. Throws INVALID_ARGUMENT listing every problem (field `problems`,
 * newline-separated) so a user fixes them all in one go.
 */
export function resolveClusterOptions(input: ClusterOptionsInput, cwd: string = process.cwd()): ClusterOptions {
  const problems: string[] = [];
  const nameservers = readInt(problems, '--nameservers', input.nameservers, DEFAULT_NAMESERVERS, 1, NAMESERVERS_MAX);
  const groups = readInt(problems, '--groups', input.groups, DEFAULT_GROUPS, 0, GROUPS_MAX);
  const slaves = readInt(problems, '--slaves', input.slaves, DEFAULT_SLAVES, 0, SLAVES_MAX);
  const basePort = readInt(problems, '--base-port', input.basePort, DEFAULT_BASE_PORT, BASE_PORT_MIN, 65_535);
  const flush = readEnum<FlushMode>(problems, '--flush', input.flush, ['async', 'sync'], 'async');
  const replication = readEnum<ReplicationMode>(problems, '--replication', input.replication, ['async', 'sync'], 'async');
  const logLevel = readEnum<LogLevel>(problems, '--log-level', input.logLevel, LOG_LEVELS, 'info');
  const fast = input.fastHeartbeats === true;
  const brokerExpiryMs = readOptionalInt(problems, '--broker-expiry-ms', input.brokerExpiryMs, BROKER_EXPIRY_MS_MIN) ?? (fast ? FAST_BROKER_EXPIRY_MS : null);
  const registerIntervalMs = readOptionalInt(problems, '--register-interval-ms', input.registerIntervalMs, REGISTER_INTERVAL_MS_MIN) ?? (fast ? FAST_REGISTER_INTERVAL_MS : null);
  const clusterName = input.clusterName ?? DEFAULT_CLUSTER_NAME;
  if (!isValidName(clusterName)) problems.push(`--cluster-name: '${clusterName}' is not a valid name (1 to 127 of A-Z a-z 0-9 _ % -)`);
  const host = input.host ?? '127.0.0.1';
  if (host.trim().length === 0) problems.push('--host: must not be empty');
  const dir = input.dir ?? DEFAULT_CLUSTER_DIR;
  if (dir.trim().length === 0) problems.push('--dir: must not be empty');
  if (brokerExpiryMs !== null && registerIntervalMs !== null && brokerExpiryMs <= registerIntervalMs) {
    problems.push(`--broker-expiry-ms (${brokerExpiryMs}) must be longer than --register-interval-ms (${registerIntervalMs}), or every broker expires between heartbeats`);
  }
  if (problems.length === 0) {
    const top = highestPort({ basePort, nameservers, groups, slaves });
    if (top > 65_535) problems.push(`--base-port: ${basePort} puts the highest port of this layout at ${top}, above 65535; choose a base port of at most ${basePort - (top - 65_535)}`);
  }
  if (problems.length > 0) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `invalid cluster options:\n  - ${problems.join('\n  - ')}`, { problems: problems.join('\n') });
  }
  return {
    dir: resolve(cwd, dir),
    nameservers,
    groups,
    slaves,
    basePort,
    host,
    clusterName,
    flush,
    replication,
    autoCreateTopics: input.autoCreateTopics ?? true,
    logLevel,
    brokerExpiryMs,
    registerIntervalMs,
    nameserverArgs: input.nameserverArgs ?? [],
    brokerArgs: input.brokerArgs ?? [],
  };
}
