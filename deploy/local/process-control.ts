// OS process supervision for the local cluster: spawn one `conveyor` process detached with its own
// log file, tell whether a pid is still ours and alive, signal it, wait for it to exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConveyorError, ErrorCode } from '../../common/errors.js';

/** The signals `cluster stop` accepts, by their short names. */
export const STOP_SIGNALS = ['TERM', 'KILL', 'STOP', 'CONT'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** running: scheduled normally; paused: SIGSTOPped; gone: exited (a zombie counts as gone). */
export type PidState = 'running' | 'paused' | 'gone';

/** Poll interval while waiting for a process to exit. */
const EXIT_POLL_MS = 25;

export function parseStopSignal(text: string): StopSignal {
  const upper = text.trim().toUpperCase().replace(/^SIG/, '');
  const found = STOP_SIGNALS.find((s) => s === upper);
  if (found === undefined) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `invalid --signal '${text}': expected one of ${STOP_SIGNALS.join(', ')}`, { value: text });
  }
  return found;
}

interface SpawnedProcess {
  pid: number;
  child: ChildProcess;
}

/**
 * Starts `node ...nodeFlags <bin> ...args` in its own process group (detached) with stdout and
 * stderr appended to `logFile`, and unrefs it: the launcher may exit and the process keeps running.
 */
export function spawnDetached(options: { bin: string; args: string[]; nodeFlags?: readonly string[]; logFile: string; cwd: string; env?: NodeJS.ProcessEnv }): SpawnedProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  try {
    writeSync(fd, `${JSON.stringify({ level: 30, time: Date.now(), msg: 'launcher starting process', nodeFlags: options.nodeFlags ?? [], args: options.args })}\n`);
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.bin, ...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) {
      throw new ConveyorError(ErrorCode.INTERNAL, `could not start ${process.execPath} ${options.bin} ${options.args.join(' ')}`, {});
    }
    // An exit is observed by polling the pid; the listener only keeps Node from raising on 'error'.
    child.on('error', () => undefined);
    child.unref();
    return { pid: child.pid, child };
  } finally {
    closeSync(fd);
  }
}

/** Linux: the one-letter state from /proc/<pid>/stat, or null when /proc is not there. */
function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) STATE …; comm may contain spaces and parentheses, so look after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

/** Linux: whether /proc says the pid runs `bin` (guards against a recycled pid); true elsewhere. */
function runsBin(pid: number, bin: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(bin);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || !procAvailable();
  }
}

let procChecked: boolean | null = null;
function procAvailable(): boolean {
  if (procChecked === null) {
    try {
      readFileSync('/proc/self/stat');
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}

/** Whether `pid` is a live process running `bin`, and if so whether it is paused (SIGSTOP). */
export function pidState(pid: number | null, bin: string): PidState {
  if (pid === null || pid <= 0) return 'gone';
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  const state = procState(pid);
  if (state === 'Z' || state === 'X') return 'gone';
  if (!runsBin(pid, bin)) return 'gone';
  return state === 'T' || state === 't' ? 'paused' : 'running';
}

export function sendSignal(pid: number, signal: StopSignal): void {
  try {
    process.kill(pid, `SIG${signal}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Resolves true once the pid is gone, false if it is still alive after timeoutMs. */
export async function waitForExit(pid: number, bin: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidState(pid, bin) !== 'gone') {
    if (Date.now() >= deadline) return false;
    await sleep(EXIT_POLL_MS);
  }
  return true;
}

/** The last `lines` lines of a log file (for an error saying why a process did not come up). */
export function logTail(logFile: string, lines = 15): string {
  try {
    const text = readFileSync(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Whether any live, non-zombie process has this pid (for a launcher's own pid: no bin check). */
export function isPidAlive(pid: number | null): boolean {
  if (pid === null || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = procState(pid);
  return state !== 'Z' && state !== 'X';
}

/** Waits until /proc shows the pid paused (wantPaused) or running again; bounded by timeoutMs. */
export async function waitForPauseState(pid: number, bin: string, wantPaused: boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = pidState(pid, bin);
    if (state === 'gone') return false;
    if ((state === 'paused') === wantPaused || !procAvailable()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(EXIT_POLL_MS);
  }
}
