// The local cluster as an object: start every process of a layout, then stop/start one, pause and
// resume one, read status, tear all down. The CLI (command.ts) and test code (the chaos suite) both
// drive it; every operation goes through the state file, so a cluster started by one shell can be
// driven from another, or from a test process.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { formatHostPort } from '../../common/addresses.js';
import { BROKER_NODE_FLAGS } from '../../common/node-flags.js';
import { planLayout, type ClusterOptions, type ProcessRole } from './layout.js';
export type { ProcessStatus } from './process-status.js';
import { resolveClusterOptions, type ClusterOptionsInput } from './options.js';
import { checkPortsFree, isPortFree } from './ports.js';
import {
  isPidAlive,
  pidState,
  sendSignal,
  spawnDetached,
  waitForExit,
  waitForPauseState,
  type StopSignal,
} from './process-control.js';
import { READY_TIMEOUT_MS, waitUntilReady } from './readiness.js';
import { statusOf, type ProcessStatus } from './process-status.js';
import { readState, requireState, updateState, withStateLock, writeState, STATE_VERSION, type ClusterState, type ProcessRecord } from './state-file.js';

/** Levels from this module to the package root: deploy/local (2), plus dist/ (3); bounded. */
const PACKAGE_ROOT_DEPTH_MAX = 6;

/**
 * bin/conveyor.js of this package (a checkout or an installed copy): every process is
 * `node <bin> nameserver|broker …`. This module runs from its source (tests) and from dist/, at
 * different depths below the package root, so the root is found by walking up to bin/conveyor.js.
 */
export const CONVEYOR_BIN = findPackageBin(dirname(fileURLToPath(import.meta.url)));

function findPackageBin(from: string): string {
  let dir = from;
  for (let level = 0; level <= PACKAGE_ROOT_DEPTH_MAX; level++) {
    const bin = join(dir, 'bin', 'conveyor.js');
    if (existsSync(bin) && existsSync(join(dir, 'package.json'))) return bin;
    dir = dirname(dir);
  }
  throw new Error(`assertion failed: no bin/conveyor.js within ${PACKAGE_ROOT_DEPTH_MAX} levels above ${from}`);
}
/** Wait after SIGTERM before SIGKILL: longer than a process's own clean-shutdown limit (20 s). */
export const TERM_GRACE_MS = 25_000;
/** After SIGKILL the kernel ends a process at once; this only bounds the wait. */
export const KILL_WAIT_MS = 5_000;
/** SIGSTOP/SIGCONT take effect at once; this bounds the wait until /proc shows it. */
const PAUSE_WAIT_MS = 2_000;
/** When `up` fails half-way, what it started gets this long after SIGTERM before SIGKILL. */
const ABORT_GRACE_MS = 5_000;

export type LauncherEvent =
  | { kind: 'spawned'; name: string; pid: number }
  | { kind: 'ready'; name: string; pid: number; elapsedMs: number };

export interface StartClusterOptions extends ClusterOptionsInput {
  /** Per-process readiness limit; default READY_TIMEOUT_MS. */
  readyTimeoutMs?: number;
  /** Environment overrides for every process, kept in the state file and reused by `start`. */
  env?: Record<string, string>;
  /** Record the calling process as the foreground launcher that owns the cluster. */
  foreground?: boolean;
  onEvent?: (event: LauncherEvent) => void;
}

export interface BrokerEndpoint {
  name: string;
  brokerName: string;
  brokerId: number;
  role: ProcessRole;
  address: string;
  httpAddress: string;
  haAddress: string | null;
}

export interface ClusterEndpoints {
  dir: string;
  clusterName: string;
  /** host:port of every nameserver: the value for --nameservers / CONVEYOR_NAMESERVERS. */
  nameservers: string[];
  nameserverHttp: string[];
  brokers: BrokerEndpoint[];
}

export type StopOutcome = 'stopped' | 'killed' | 'paused' | 'resumed' | 'not running';
export interface StopResult {
  name: string;
  pid: number | null;
  outcome: StopOutcome;
}

function findProcess(state: ClusterState, name: string, dir: string): ProcessRecord {
  const record = state.processes.find((p) => p.name === name);
  if (record === undefined) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `no process '${name}' in the cluster in ${dir}; its processes are ${state.processes.map((p) => p.name).join(', ')}`, { name });
  }
  return record;
}

function liveProcesses(state: ClusterState): ProcessRecord[] {
  return state.processes.filter((p) => pidState(p.pid, state.bin) !== 'gone');
}

/** Throws when `dir` holds a cluster with a live process or a live foreground launcher. */
function refuseLiveCluster(state: ClusterState | null, dir: string): void {
  if (state === null) return;
  const live = liveProcesses(state);
  const launcherLive = state.launcherPid !== null && state.launcherPid !== process.pid && isPidAlive(state.launcherPid);
  if (live.length > 0 || launcherLive) {
    const what = live.length > 0 ? live.map((p) => `${p.name} (pid ${p.pid})`).join(', ') : `its launcher (pid ${state.launcherPid})`;
    throw new ConveyorError(
      ErrorCode.INVALID_ARGUMENT,
      `a local cluster is already running in ${dir}: ${what}; see 'conveyor cluster status --dir ${dir}' or stop it with 'conveyor cluster down --dir ${dir}'`,
      { dir },
    );
  }
}

export class LocalCluster {
  readonly dir: string;
  readonly options: ClusterOptions;

  private constructor(dir: string, options: ClusterOptions) {
    this.dir = dir;
    this.options = options;
  }

  /** Attaches to the cluster whose state file is in `dir` (started by `cluster up` or startLocalCluster). */
  static open(dir: string): LocalCluster {
    const state = requireState(resolve(dir));
    return new LocalCluster(resolve(dir), state.options);
  }

  /** Starts every process, nameservers first, and resolves once all are ready. */
  static async start(input: StartClusterOptions): Promise<LocalCluster> {
    const options = resolveClusterOptions(input);
    const dir = options.dir;
    const layout = planLayout(options);
    await withStateLock(dir, async () => {
      refuseLiveCluster(readState(dir), dir);
      await checkPortsFree(options);
      const state: ClusterState = {
        version: STATE_VERSION,
        createdAtMs: Date.now(),
        bin: CONVEYOR_BIN,
        cwd: process.cwd(),
        // Held by the starting process until all are ready, so a second `up` in the same dir is refused.
        launcherPid: process.pid,
        options,
        env: input.env ?? {},
        processes: layout.processes.map((spec) => ({ ...spec, pid: null, startedAtMs: null })),
      };
      writeState(dir, state);
    });
    const cluster = new LocalCluster(dir, options);
    const readyTimeoutMs = input.readyTimeoutMs ?? READY_TIMEOUT_MS;
    try {
      const nameservers = layout.processes.filter((p) => p.role === 'nameserver').map((p) => p.name);
      const brokers = layout.processes.filter((p) => p.role !== 'nameserver').map((p) => p.name);
      // Nameservers first: brokers register with them as they come up.
      for (const phase of [nameservers, brokers]) {
        const pids = new Map<string, number>();
        for (const name of phase) pids.set(name, await cluster.spawn(name, input.onEvent));
        await Promise.all(phase.map((name) => cluster.awaitReady(name, pids.get(name) ?? 0, readyTimeoutMs, input.onEvent)));
      }
    } catch (err) {
      await cluster.down(ABORT_GRACE_MS).catch(() => undefined);
      await updateState(dir, (s) => void (s.launcherPid = null)).catch(() => undefined);
      throw err;
    }
    await updateState(dir, (s) => void (s.launcherPid = input.foreground === true ? process.pid : null));
    return cluster;
  }

  private state(): ClusterState {
    return requireState(this.dir);
  }

  /** Names of all processes, in start order (nameservers, then brokers by group and id). */
  processNames(): string[] {
    return this.state().processes.map((p) => p.name);
  }

  /** The current record of one process (spec, pid). */
  process(name: string): ProcessRecord {
    return findProcess(this.state(), name, this.dir);
  }

  /** host:port of every nameserver, for a client's nameserver list. */
  nameserverAddresses(): string[] {
    return this.state().processes.filter((p) => p.role === 'nameserver').map((p) => formatHostPort(p.host, p.port));
  }

  endpoints(): ClusterEndpoints {
    const state = this.state();
    const nameservers = state.processes.filter((p) => p.role === 'nameserver');
    return {
      dir: this.dir,
      clusterName: state.options.clusterName,
      nameservers: nameservers.map((p) => formatHostPort(p.host, p.port)),
      nameserverHttp: nameservers.map((p) => formatHostPort(p.host, p.httpPort)),
      brokers: state.processes
        .filter((p) => p.role !== 'nameserver')
        .map((p) => ({
          name: p.name,
          brokerName: p.brokerName ?? '',
          brokerId: p.brokerId ?? 0,
          role: p.role,
          address: formatHostPort(p.host, p.port),
          httpAddress: formatHostPort(p.host, p.httpPort),
          haAddress: p.haPort === null ? null : formatHostPort(p.host, p.haPort),
        })),
    };
  }

  async status(): Promise<ProcessStatus[]> {
    const state = this.state();
    return Promise.all(state.processes.map(async (p) => statusOf(p, pidState(p.pid, state.bin))));
  }

  /**
   * Sends one signal to one process. TERM and KILL wait for the exit (TERM escalates to KILL after
   * graceMs and says so: outcome 'killed'); STOP and CONT wait until the kernel shows the change.
   */
  async stop(name: string, signal: StopSignal = 'TERM', graceMs = TERM_GRACE_MS): Promise<StopResult> {
    const state = this.state();
    const record = findProcess(state, name, this.dir);
    const pid = record.pid;
    const before = pidState(pid, state.bin);
    if (pid === null || before === 'gone') {
      if (signal === 'STOP' || signal === 'CONT') {
        throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `${name} is not running, so it cannot be ${signal === 'STOP' ? 'paused' : 'resumed'}; start it with 'conveyor cluster start ${name} --dir ${this.dir}'`, { name });
      }
      await this.setPid(name, pid, null);
      return { name, pid: null, outcome: 'not running' };
    }
    switch (signal) {
      case 'STOP':
      case 'CONT': {
        sendSignal(pid, signal);
        await waitForPauseState(pid, state.bin, signal === 'STOP', PAUSE_WAIT_MS);
        return { name, pid, outcome: signal === 'STOP' ? 'paused' : 'resumed' };
      }
      case 'TERM':
      case 'KILL': {
        const outcome = await terminate(pid, state.bin, signal, before === 'paused', graceMs);
        await this.setPid(name, pid, null);
        return { name, pid, outcome };
      }
    }
  }

  /** Starts one process again with its same arguments and data; resolves with its pid once ready. */
  async start(name: string, readyTimeoutMs = READY_TIMEOUT_MS): Promise<number> {
    const pid = await this.spawn(name);
    await this.awaitReady(name, pid, readyTimeoutMs);
    return pid;
  }

  /** Stops every process: brokers first (they unregister from the nameservers), then nameservers. */
  async down(graceMs = TERM_GRACE_MS): Promise<StopResult[]> {
    // The cluster has no owner any more; a foreground launcher elsewhere sees this and exits.
    await updateState(this.dir, (s) => void (s.launcherPid = null));
    const state = this.state();
    const brokers = state.processes.filter((p) => p.role !== 'nameserver');
    const nameservers = state.processes.filter((p) => p.role === 'nameserver');
    const results: StopResult[] = [];
    for (const phase of [brokers, nameservers]) {
      results.push(...(await Promise.all(phase.map((p) => this.stop(p.name, 'TERM', graceMs)))));
    }
    return results;
  }

  /** Spawns one process (refusing if it runs or its ports are taken) and records its pid. */
  private async spawn(name: string, onEvent?: (event: LauncherEvent) => void): Promise<number> {
    const pid = await withStateLock(this.dir, async () => {
      const state = this.state();
      const record = findProcess(state, name, this.dir);
      const current = pidState(record.pid, state.bin);
      if (current !== 'gone') {
        const hint = current === 'paused' ? `it is paused; resume it with 'conveyor cluster stop ${name} --signal CONT --dir ${this.dir}'` : 'stop it first';
        throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `${name} is already running (pid ${record.pid}); ${hint}`, { name });
      }
      for (const port of [record.port, record.httpPort, ...(record.haPort === null ? [] : [record.haPort])]) {
        if (!(await isPortFree(record.host, port))) {
          throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `cannot start ${name}: port ${port} is already in use on ${record.host}`, { name, port });
        }
      }
      if (record.dataDir !== null) mkdirSync(record.dataDir, { recursive: true });
      const nodeFlags = record.role === 'nameserver' ? [] : BROKER_NODE_FLAGS;
      const spawned = spawnDetached({ bin: state.bin, args: record.args, nodeFlags, logFile: record.logFile, cwd: state.cwd, env: { ...process.env, ...state.env } });
      record.pid = spawned.pid;
      record.startedAtMs = Date.now();
      writeState(this.dir, state);
      return spawned.pid;
    });
    onEvent?.({ kind: 'spawned', name, pid });
    return pid;
  }

  private async awaitReady(name: string, pid: number, timeoutMs: number, onEvent?: (event: LauncherEvent) => void): Promise<void> {
    const state = this.state();
    const record = findProcess(state, name, this.dir);
    const began = Date.now();
    await waitUntilReady({ name, pid, host: record.host, httpPort: record.httpPort, logFile: record.logFile }, state.bin, timeoutMs);
    onEvent?.({ kind: 'ready', name, pid, elapsedMs: Date.now() - began });
  }

  /** Clears a pid after its exit, unless a concurrent `start` already recorded a new one. */
  private async setPid(name: string, expected: number | null, pid: number | null): Promise<void> {
    await updateState(this.dir, (s) => {
      const record = findProcess(s, name, this.dir);
      if (record.pid === expected) record.pid = pid;
    });
  }
}

async function terminate(pid: number, bin: string, signal: 'TERM' | 'KILL', paused: boolean, graceMs: number): Promise<StopOutcome> {
  sendSignal(pid, signal);
  // A paused process would hold SIGTERM pending forever; let it run to handle it.
  if (paused && signal === 'TERM') sendSignal(pid, 'CONT');
  if (await waitForExit(pid, bin, signal === 'TERM' ? graceMs : KILL_WAIT_MS)) return signal === 'TERM' ? 'stopped' : 'killed';
  if (signal === 'TERM') {
    sendSignal(pid, 'KILL');
    if (await waitForExit(pid, bin, KILL_WAIT_MS)) return 'killed';
  }
  throw new ConveyorError(ErrorCode.TIMEOUT, `process ${pid} did not exit after SIGKILL within ${KILL_WAIT_MS} ms`, { pid });
}

/** Starts a local cluster (see LocalCluster.start). */
export function startLocalCluster(options: StartClusterOptions): Promise<LocalCluster> {
  return LocalCluster.start(options);
}

/** Attaches to a running local cluster by its directory. */
export function openLocalCluster(dir: string): LocalCluster {
  return LocalCluster.open(dir);
}
