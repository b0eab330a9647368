// How many files the store may hold open (docs/storage.md "Open files"): the process's soft
// RLIMIT_NOFILE minus headroom for LevelDB, sockets and the process's own descriptors. The
// arithmetic is pure (planOpenFiles); readOpenFilesLimit reads the limit where the OS tells it.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConveyorError, ErrorCode } from '../../common/errors.js';

/**
 * LevelDB's max_open_files for the metadata and index database (classic-level's default is 1,000).
 * LevelDB keeps 10 of them for its log, manifest and lock files and caches table files in the rest;
 * with 2 MiB tables, 246 cached tables cover ~500 MB of index before a lookup reopens one.
 */
export const META_MAX_OPEN_FILES = 256;
/** Descriptors of the process that are neither store files, LevelDB nor connections: stdio, libuv's epoll and wake-up pipes, the checkpoint and abort-marker files, directory fsyncs, short opens at recovery. */
export const PROCESS_FILES_RESERVED = 64;
/** Share of the limit left after LevelDB and the process kept for sockets (clients, nameservers, replication, HTTP). */
export const SOCKETS_RESERVED_SHARE = 0.25;
/** Sockets reserved at least, however low the limit. */
export const SOCKETS_RESERVED_MIN = 128;
/**
 * Most store files open at once, however high the limit: past this, more cached handles save only
 * an open() per cache miss, while each costs kernel memory and a FileHandle object.
 */
export const OPEN_FILES_BUDGET_MAX = 32_768;
/**
 * Fewest store handles that work: the pinned tail segment, the previous one while a write rolls
 * over, the 4 parallel span reads of one pull (SPAN_READS_IN_FLIGHT_MAX) and the flush tick's
 * consume-queue writes each hold one; below this they mostly wait on one another.
 */
export const OPEN_FILES_BUDGET_MIN = 16;
/** Lowest soft limit that leaves OPEN_FILES_BUDGET_MIN (at this size the sockets get SOCKETS_RESERVED_MIN). */
export const OPEN_FILES_LIMIT_MIN = META_MAX_OPEN_FILES + PROCESS_FILES_RESERVED + SOCKETS_RESERVED_MIN + OPEN_FILES_BUDGET_MIN;
/** Assumed soft limit where the OS does not say (not Linux): the common default of 1,024. */
export const OPEN_FILES_LIMIT_FALLBACK = 1_024;

export interface OpenFilesPlan {
  /** The soft RLIMIT_NOFILE the plan starts from. */
  softLimit: number;
  /** Where softLimit came from. */
  limitSource: 'proc' | 'fallback';
  metaMaxOpenFiles: number;
  processReserved: number;
  socketsReserved: number;
  /** Descriptors kept out of the store's budget: LevelDB + process + sockets. */
  headroom: number;
  /** What the limit leaves for store files (never above OPEN_FILES_BUDGET_MAX). */
  limitBudget: number;
  /** The store's handle budget: the openFilesMax setting if given and within limitBudget, else limitBudget. */
  budget: number;
  /** openFilesMax as set, if it was. */
  setting: number | undefined;
  /** The setting asked for more than the limit leaves (the budget is limitBudget then). */
  settingClamped: boolean;
  /** The budget is below OPEN_FILES_BUDGET_MIN: the broker must not start. */
  tooLow: boolean;
}

export function planOpenFiles(softLimit: number, limitSource: OpenFilesPlan['limitSource'], setting?: number): OpenFilesPlan {
  const metaMaxOpenFiles = META_MAX_OPEN_FILES;
  const processReserved = PROCESS_FILES_RESERVED;
  const left = Math.max(0, softLimit - metaMaxOpenFiles - processReserved);
  const socketsReserved = Math.max(SOCKETS_RESERVED_MIN, Math.ceil(left * SOCKETS_RESERVED_SHARE));
  const headroom = metaMaxOpenFiles + processReserved + socketsReserved;
  const limitBudget = Math.max(0, Math.min(OPEN_FILES_BUDGET_MAX, softLimit - headroom));
  const settingClamped = setting !== undefined && setting > limitBudget;
  const budget = setting === undefined || settingClamped ? limitBudget : setting;
  return { softLimit, limitSource, metaMaxOpenFiles, processReserved, socketsReserved, headroom, limitBudget, budget, setting, settingClamped, tooLow: budget < OPEN_FILES_BUDGET_MIN };
}

/** The soft "Max open files" of /proc/self/limits; undefined when the text has no such line or it says unlimited. */
export function parseOpenFilesLimit(limitsText: string): number | undefined {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return undefined;
  return Number(soft);
}

/** The process's soft open-files limit (Node has no getrlimit): /proc on Linux, else OPEN_FILES_LIMIT_FALLBACK. */
export function readOpenFilesLimit(): { softLimit: number; limitSource: OpenFilesPlan['limitSource'] } {
  let parsed: number | undefined;
  try {
    parsed = parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    parsed = undefined; // no /proc (macOS, a sandbox)
  }
  return parsed === undefined ? { softLimit: OPEN_FILES_LIMIT_FALLBACK, limitSource: 'fallback' } : { softLimit: parsed, limitSource: 'proc' };
}

/** The plan for this process. */
export function planOpenFilesForProcess(setting?: number): OpenFilesPlan {
  const { softLimit, limitSource } = readOpenFilesLimit();
  return planOpenFiles(softLimit, limitSource, setting);
}

/**
 * The start-up line with the numbers (info; warn when openFilesMax asked for more than the limit
 * leaves) and the refusal when the budget cannot work: at start, not at minute five.
 */
export function checkOpenFilesPlan(plan: OpenFilesPlan, log: Logger): void {
  const { softLimit, limitSource, headroom, metaMaxOpenFiles, processReserved, socketsReserved, limitBudget, budget, setting } = plan;
  const fields = { softLimit, limitSource, headroom, metaMaxOpenFiles, processReserved, socketsReserved, limitBudget, budget, openFilesMax: setting };
  if (plan.tooLow) {
    log.error(fields, 'open files budget too low');
    const raiseSetting = setting === undefined ? '' : ` or openFilesMax to at least ${OPEN_FILES_BUDGET_MIN}`;
    throw new ConveyorError(
      ErrorCode.CONFIG_INVALID,
      `the store may hold only ${budget} open files (open-files limit ${softLimit} minus ${headroom} kept for LevelDB, sockets and the process${setting === undefined ? '' : `, or openFilesMax ${setting}`}), fewer than the ${OPEN_FILES_BUDGET_MIN} it needs: raise the limit (ulimit -n) to at least ${OPEN_FILES_LIMIT_MIN}${raiseSetting}`,
      { softLimit, headroom, budget, budgetMin: OPEN_FILES_BUDGET_MIN },
    );
  }
  if (plan.settingClamped) log.warn(fields, 'open files budget: openFilesMax is above what the open-files limit leaves, using the limit');
  else log.info(fields, 'open files budget');
}
