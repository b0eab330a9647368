// The state file, <dir>/cluster.json: the launcher's only memory between commands. It holds the
// options, every process's spec (name, role, broker name/id, ports, args, data dir, log file) and
// its current pid. Writes are atomic (temp file + rename); read-modify-write runs under a lock file
// so that `cluster stop`/`start` from several shells (or a chaos run) never lose an update.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { ClusterOptions, ProcessSpec } from './layout.js';

const STATE_FILE_NAME = 'cluster.json';
/** Bumped on an incompatible change of the JSON below; an older launcher refuses a newer file. */
export const STATE_VERSION = 1;
/** How long to wait for another command's lock before giving up (they hold it for milliseconds). */
const STATE_LOCK_WAIT_MS_MAX = 10_000;
/** Poll interval while waiting for the lock. */
const STATE_LOCK_POLL_MS = 20;

export interface ProcessRecord extends ProcessSpec {
  /** The live (or last) OS process; null before the first start and after `down`. */
  pid: number | null;
  startedAtMs: number | null;
}

export interface ClusterState {
  version: typeof STATE_VERSION;
  createdAtMs: number;
  /** Absolute path of bin/conveyor.js the processes are started with. */
  bin: string;
  /** Working directory of the processes. */
  cwd: string;
  /** The foreground `cluster up` that owns this cluster, or null when detached. */
  launcherPid: number | null;
  options: ClusterOptions;
  /** Environment overrides every process gets (on top of the launcher's own environment). */
  env: Record<string, string>;
  processes: ProcessRecord[];
}

export function stateFilePath(dir: string): string {
  return join(dir, STATE_FILE_NAME);
}

function corrupt(path: string, why: string): ConveyorError {
  return new ConveyorError(ErrorCode.INVALID_ARGUMENT, `cluster state file ${path} is not usable (${why}); stop any processes it started by pid, then remove it`, { path });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the fields the launcher relies on; anything else in the file is carried along as is. */
function checkState(path: string, parsed: unknown): ClusterState {
  if (!isRecord(parsed)) throw corrupt(path, 'not a JSON object');
  if (parsed['version'] !== STATE_VERSION) throw corrupt(path, `version ${String(parsed['version'])}, this launcher reads version ${STATE_VERSION}`);
  if (typeof parsed['bin'] !== 'string' || typeof parsed['cwd'] !== 'string' || !isRecord(parsed['options']) || !isRecord(parsed['env'])) {
    throw corrupt(path, 'bin, cwd, options or env missing');
  }
  const processes = parsed['processes'];
  if (!Array.isArray(processes)) throw corrupt(path, 'processes missing');
  for (const p of processes) {
    if (!isRecord(p) || typeof p['name'] !== 'string' || !Array.isArray(p['args']) || typeof p['httpPort'] !== 'number' || typeof p['logFile'] !== 'string') {
      throw corrupt(path, 'a process entry lacks name, args, httpPort or logFile');
    }
    if (p['pid'] !== null && typeof p['pid'] !== 'number') throw corrupt(path, `process ${p['name']} has a pid that is not a number`);
  }
  return parsed as unknown as ClusterState;
}

/** The state in `dir`, or null when there is none. Throws INVALID_ARGUMENT for an unreadable file. */
export function readState(dir: string): ClusterState | null {
  const path = stateFilePath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `cannot read cluster state file ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw corrupt(path, `invalid JSON: ${(err as Error).message}`);
  }
  return checkState(path, parsed);
}

/** Like readState, but a missing file is an error telling the user how to start a cluster. */
export function requireState(dir: string): ClusterState {
  const state = readState(dir);
  if (state === null) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `no local cluster in ${dir} (no ${STATE_FILE_NAME}); start one with 'conveyor cluster up --dir ${dir}'`, { dir });
  }
  return state;
}

/** Atomic replace: a reader sees the old file or the new one, never half of one. */
export function writeState(dir: string, state: ClusterState): void {
  mkdirSync(dir, { recursive: true });
  const path = stateFilePath(dir);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temp, path);
}

function lockHolderAlive(lockPath: string): boolean {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: a live process we may not signal; ENOENT: the lock went away meanwhile.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding <dir>/cluster.json.lock; a lock left by a dead process is taken over. */
export async function withStateLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lockPath = `${stateFilePath(dir)}.lock`;
  const deadline = Date.now() + STATE_LOCK_WAIT_MS_MAX;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (existsSync(lockPath) && !lockHolderAlive(lockPath)) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ConveyorError(ErrorCode.TIMEOUT, `the cluster state in ${dir} stayed locked for ${STATE_LOCK_WAIT_MS_MAX} ms by another conveyor command; if none is running, remove ${lockPath}`, { dir });
      }
      await sleep(STATE_LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

/** Read, change and write the state under the lock; returns what `change` returned. */
export async function updateState<T>(dir: string, change: (state: ClusterState) => T): Promise<T> {
  return withStateLock(dir, () => {
    const state = requireState(dir);
    const result = change(state);
    writeState(dir, state);
    return result;
  });
}
