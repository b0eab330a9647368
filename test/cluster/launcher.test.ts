// The local cluster launcher with real processes: `conveyor cluster up|status|stop|start|down`
// through bin/conveyor.js, and the same operations through the in-process API the chaos suite uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LocalCluster,
  pickFreeBasePort,
  readState,
  resolveClusterOptions,
  startLocalCluster,
  type ClusterOptionsInput,
  type ProcessStatus,
} from '../../deploy/local/index.js';
import { isPidAlive } from '../../deploy/local/process-control.js';
import { BROKER_NODE_FLAGS } from '../../common/node-flags.js';
import { runConveyor, tempDir, type CliResult } from '../helpers/processes.js';

/** A CLI call must finish within this; `up` includes starting three processes on a busy 2-core machine. */
const CLI_TIMEOUT_MS = 60_000;


function conveyor(args: string[]): Promise<CliResult> {
  return runConveyor(args, { timeoutMs: CLI_TIMEOUT_MS });
}

async function statusJson(dir: string): Promise<Map<string, ProcessStatus>> {
  const result = await conveyor(['cluster', 'status', '--dir', dir, '--json']);
  expect(result.code, result.stderr).toBe(0);
  const parsed = JSON.parse(result.stdout) as { processes: ProcessStatus[] };
  return new Map(parsed.processes.map((p) => [p.name, p]));
}

/** A fresh dir and a random free base port; whatever is left running is taken down at the end. */
async function clusterPlace(layout: ClusterOptionsInput): Promise<{ dir: string; basePort: number }> {
  const dir = join(tempDir('conveyor-launcher-'), 'cluster');
  const { basePort: _ignored, ...options } = resolveClusterOptions({ ...layout, dir });
  const basePort = await pickFreeBasePort(options);
  afterAll(async () => {
    if (readState(dir) !== null) await LocalCluster.open(dir).down(5_000);
  });
  return { dir, basePort };
}

describe('conveyor cluster (command line)', async () => {
  const { dir, basePort } = await clusterPlace({ nameservers: 1, groups: 1, slaves: 1 });
  const layout = ['--dir', dir, '--base-port', String(basePort), '--nameservers', '1', '--groups', '1', '--slaves', '1'];
  let pids = new Map<string, number>();

  it('starts a nameserver, a master and a slave in the background and prints their endpoints', async () => {
    const result = await conveyor(['cluster', 'up', ...layout, '--detach', '--json', '--fast-heartbeats']);
    expect(result.code, result.stderr).toBe(0);
    const endpoints = JSON.parse(result.stdout) as { nameservers: string[]; brokers: Array<{ name: string; role: string; address: string }> };
    expect(endpoints.nameservers).toEqual([`127.0.0.1:${basePort}`]);
    expect(endpoints.brokers.map((b) => [b.name, b.role, b.address])).toEqual([
      ['broker-a-0', 'master', `127.0.0.1:${basePort + 1035}`],
      ['broker-a-1', 'slave', `127.0.0.1:${basePort + 1045}`],
    ]);
    expect(result.stderr).toContain('broker-a-1 ready');
  });

  it('shows every process alive with its role, broker name, id, ports and pid', async () => {
    const status = await statusJson(dir);
    expect([...status.values()].map((p) => [p.name, p.role, p.brokerName, p.brokerId, p.state, p.alive])).toEqual([
      ['nameserver-0', 'nameserver', null, null, 'ready', true],
      ['broker-a-0', 'master', 'broker-a', 0, 'ready', true],
      ['broker-a-1', 'slave', 'broker-a', 1, 'ready', true],
    ]);
    expect(status.get('broker-a-0')?.httpPort).toBe(basePort + 1036);
    pids = new Map([...status.values()].map((p) => [p.name, p.pid ?? 0]));
    for (const pid of pids.values()) expect(isPidAlive(pid)).toBe(true);
  });

  it('runs the brokers with their node flags (common/node-flags.ts) and the nameserver without', () => {
    const nodeArgs = (name: string): string[] => {
      const argv = readFileSync(`/proc/${pids.get(name) ?? 0}/cmdline`, 'utf8').split('\0');
      return argv.slice(1, argv.findIndex((a) => a.endsWith('conveyor.js')));
    };
    expect(nodeArgs('broker-a-0')).toEqual([...BROKER_NODE_FLAGS]);
    expect(nodeArgs('broker-a-1')).toEqual([...BROKER_NODE_FLAGS]);
    expect(nodeArgs('nameserver-0')).toEqual([]);
  });

  it('refuses a second cluster in the same directory, naming the running processes', async () => {
    const result = await conveyor(['cluster', 'up', ...layout, '--detach']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`a local cluster is already running in ${dir}`);
    expect(result.stderr).toContain(`broker-a-0 (pid ${pids.get('broker-a-0')})`);
  });

  it('kills one broker with SIGKILL and shows it dead while the others stay alive', async () => {
    const result = await conveyor(['cluster', 'stop', 'broker-a-0', '--signal', 'KILL', '--dir', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('broker-a-0 killed (SIGKILL)');
    expect(isPidAlive(pids.get('broker-a-0') ?? 0)).toBe(false);
    const status = await statusJson(dir);
    expect(status.get('broker-a-0')).toMatchObject({ state: 'dead', alive: false, pid: null });
    expect(status.get('broker-a-1')?.alive).toBe(true);
    expect(status.get('nameserver-0')?.alive).toBe(true);
  });

  it('starts the killed broker again with a new pid, same ports and data', async () => {
    const result = await conveyor(['cluster', 'start', 'broker-a-0', '--dir', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/broker-a-0 started \(pid \d+\), ready in/);
    const status = await statusJson(dir);
    expect(status.get('broker-a-0')).toMatchObject({ state: 'ready', alive: true, port: basePort + 1035 });
    expect(status.get('broker-a-0')?.pid).not.toBe(pids.get('broker-a-0'));
    expect(readState(dir)?.processes.find((p) => p.name === 'broker-a-0')?.dataDir).toBe(join(dir, 'data', 'broker-a-0'));
  });

  it('pauses a process with SIGSTOP and resumes it with SIGCONT', async () => {
    const paused = await conveyor(['cluster', 'stop', 'broker-a-1', '--signal', 'STOP', '--dir', dir]);
    expect(paused.code, paused.stderr).toBe(0);
    expect((await statusJson(dir)).get('broker-a-1')).toMatchObject({ state: 'paused', alive: false, pid: pids.get('broker-a-1') });
    const resumed = await conveyor(['cluster', 'stop', 'broker-a-1', '--signal', 'CONT', '--dir', dir]);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expect.poll(async () => (await statusJson(dir)).get('broker-a-1')?.alive, { timeout: 10_000, interval: 200 }).toBe(true);
  });

  it('takes everything down, after which no pid is left and status shows all dead', async () => {
    const livePids = [...(await statusJson(dir)).values()].map((p) => p.pid ?? 0);
    const result = await conveyor(['cluster', 'down', '--dir', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Cluster down: 3 of 3 processes were running and are stopped');
    for (const pid of livePids) expect(isPidAlive(pid)).toBe(false);
    const status = await statusJson(dir);
    expect([...status.values()].map((p) => [p.name, p.state, p.pid])).toEqual([
      ['nameserver-0', 'dead', null],
      ['broker-a-0', 'dead', null],
      ['broker-a-1', 'dead', null],
    ]);
  });

  it('fails as a whole when a process exits during start-up, showing its log and leaving nothing running', async () => {
    const result = await conveyor(['cluster', 'up', ...layout, '--detach', '--broker-arg=--no-such-broker-flag']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/broker-a-[01] exited before it was ready; last lines of .*broker-a-[01]\.log/);
    expect(result.stderr).toContain("unknown option '--no-such-broker-flag'");
    const status = await statusJson(dir);
    expect([...status.values()].filter((p) => p.state !== 'dead')).toEqual([]);
  });

  it('refuses a port that something else holds, naming it', async () => {
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(basePort, '127.0.0.1', resolve));
    try {
      const result = await conveyor(['cluster', 'up', ...layout, '--detach']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`port ${basePort} (nameserver-0 gRPC) already in use on 127.0.0.1`);
    } finally {
      holder.close();
    }
  });
});

describe('LocalCluster (in-process API)', async () => {
  const { dir, basePort } = await clusterPlace({ nameservers: 1, groups: 1, slaves: 0 });

  it('starts, restarts a broker after SIGTERM and tears down', async () => {
    const cluster = await startLocalCluster({ dir, basePort, nameservers: 1, groups: 1, slaves: 0, fastHeartbeats: true });
    expect(cluster.nameserverAddresses()).toEqual([`127.0.0.1:${basePort}`]);
    expect(cluster.endpoints().brokers.map((b) => b.name)).toEqual(['broker-a-0']);
    const before = cluster.process('broker-a-0').pid;
    expect(await cluster.stop('broker-a-0', 'TERM')).toEqual({ name: 'broker-a-0', pid: before, outcome: 'stopped' });
    expect((await cluster.status()).find((p) => p.name === 'broker-a-0')?.alive).toBe(false);
    const after = await cluster.start('broker-a-0');
    expect(after).not.toBe(before);
    expect((await cluster.status()).every((p) => p.alive)).toBe(true);
    const results = await cluster.down();
    expect(results.map((r) => [r.name, r.outcome])).toEqual([
      ['broker-a-0', 'stopped'],
      ['nameserver-0', 'stopped'],
    ]);
  });
});
