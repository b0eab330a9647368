// Real processes for cluster and chaos tests: spawn a `conveyor` subcommand, wait until its HTTP
// /readyz answers 200, stop it by PID. Every process spawned here is killed when the test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { loopBound } from './loop-bound.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const CONVEYOR_BIN = join(REPO_ROOT, 'bin', 'conveyor.js');

/** A free TCP port on 127.0.0.1 (bound, then released: fine on loopback for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `count` distinct free ports; the OS may hand the same port out twice, so a few extra tries are allowed. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  const bound = loopBound(`picking ${count} free ports`, 2 * count + 8, 10_000);
  while (ports.size < count) {
    bound.tick();
    ports.add(await freePort());
  }
  return [...ports];
}

/**
 * A temp directory removed when the test file ends, after the processes spawned here have stopped
 * (a broker still writing into it would make the removal fail with ENOTEMPTY). Callable anywhere:
 * at the top of a file, in a describe, in a hook or inside a test; one after-all hook of this
 * module, registered before the test file's own, removes them all last.
 */
export function tempDir(prefix = 'conveyor-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM and wait; SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<number | string>;
}

const live = new Set<RunningProcess>();
const tempDirs = new Set<string>();
/** Stops every process spawned here that is still running (SIGKILL after 2 s). */
async function stopLive(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(2_000)));
}
// Registered when a test file imports this module, so before the file's own hooks: it runs after
// them (vitest runs after-all hooks in reverse order), once their consumers and clusters are down.
afterAll(async () => {
  await stopLive();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
});

export interface SpawnOptions {
  name: string;
  /** Arguments after `conveyor`, e.g. ['nameserver', '--port', '9876']. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  logDir: string;
  /** Runs the process under `ulimit -n` of this many files (soft and hard), through sh, which execs node (same pid). */
  openFilesLimit?: number;
}

/** Spawns `node bin/conveyor.js ...args` with stdout+stderr appended to <logDir>/<name>.log. */
export function spawnConveyor(options: SpawnOptions): RunningProcess {
  const logFile = join(options.logDir, `${options.name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const command = [process.execPath, CONVEYOR_BIN, ...options.args];
  const [file, ...argv] = options.openFilesLimit === undefined ? command : ['/bin/sh', '-c', 'ulimit -n "$1" && shift && exec "$@"', 'sh', String(options.openFilesLimit), ...command];
  const child = spawn(file as string, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  if (child.pid === undefined) throw new Error(`could not spawn ${options.name}`);
  const exited = new Promise<number | string>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'));
  });
  const proc: RunningProcess = {
    name: options.name,
    child,
    pid: child.pid,
    logFile,
    exited,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      live.delete(proc);
      return exited;
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

/** Polls http://127.0.0.1:<httpPort>/readyz until 200, or fails after timeoutMs (also if the process exits). */
export async function waitReady(proc: RunningProcess, httpPort: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited before it was ready; see ${proc.logFile}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} not ready within ${timeoutMs} ms; see ${proc.logFile}`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a fresh shell: no CONVEYOR_* settings leak in from the test process. */
export function freshShellEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CONVEYOR_'))), ...extra };
}

/**
 * Runs `conveyor ...args` to completion as a user would (`node bin/conveyor.js`, same as
 * `npx conveyor`) and collects its exit code and output; SIGKILLs it and fails after timeoutMs.
 */
export function runConveyor(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CONVEYOR_BIN, ...args], { cwd: REPO_ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`conveyor ${args.join(' ')} did not finish in ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}
