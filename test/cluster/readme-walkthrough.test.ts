// The README's first walk, typed as a new user would from a fresh shell (`npx conveyor …` is
// `node bin/conveyor.js …`): start a cluster, create a topic, send, consume with a group, look at
// the group, take the cluster down. Each step must exit 0 and say what happened.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalCluster, pickFreeBasePort, readState, resolveClusterOptions } from '../../deploy/local/index.js';
import { isPidAlive } from '../../deploy/local/process-control.js';
import { freshShellEnv, runConveyor, tempDir, type CliResult } from '../helpers/processes.js';

/** Any one step must finish within this (cluster up starts five processes on a busy 2-core machine). */
const STEP_TIMEOUT_MS = 60_000;

describe('the README walkthrough', async () => {
  const dir = join(tempDir('conveyor-readme-'), 'cluster');
  const { basePort: _default, ...options } = resolveClusterOptions({ dir });
  const basePort = await pickFreeBasePort(options);
  afterAll(async () => {
    if (readState(dir) !== null) await LocalCluster.open(dir).down(5_000);
  });
  // A fresh shell: no CONVEYOR_* settings from the test environment, only the nameserver list that
  // `cluster up` told the user to export (the base port is random here, not 9876).
  const env = freshShellEnv({ CONVEYOR_NAMESERVERS: `127.0.0.1:${basePort}` });

  function npxConveyor(args: string[]): Promise<CliResult> {
    return runConveyor(args, { env, timeoutMs: STEP_TIMEOUT_MS });
  }


  let pids: number[] = [];

  it('npx conveyor cluster up --detach starts the dev cluster and says what to try next', async () => {
    const result = await npxConveyor(['cluster', 'up', '--detach', '--dir', dir, '--base-port', String(basePort)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Local cluster DefaultCluster is up: 5 processes');
    for (const name of ['nameserver-0', 'broker-a-0', 'broker-a-1', 'broker-b-0', 'broker-b-1']) expect(result.stdout).toMatch(new RegExp(`^${name} .* ready +yes`, 'm'));
    expect(result.stdout).toContain(`export CONVEYOR_NAMESERVERS=127.0.0.1:${basePort}`);
    expect(result.stdout).toContain('npx conveyor topic create demo');
    pids = (readState(dir)?.processes ?? []).map((p) => p.pid ?? 0);
    expect(pids.every((pid) => isPidAlive(pid))).toBe(true);
  });

  it('npx conveyor topic create demo creates the topic', async () => {
    const result = await npxConveyor(['topic', 'create', 'demo']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Created topic demo with 8 queues on broker-a, broker-b/);
  });

  it('npx conveyor send --topic demo --body hi --count 100 has all 100 acknowledged', async () => {
    const result = await npxConveyor(['send', '--topic', 'demo', '--body', 'hi', '--count', '100']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Sent 100 of 100 messages to topic demo/);
  });

  it('npx conveyor consume --topic demo --group g --count 100 prints the 100 messages', async () => {
    const result = await npxConveyor(['consume', '--topic', 'demo', '--group', 'g', '--count', '100']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line.length > 0);
    expect(lines).toHaveLength(100);
    expect(lines.every((line) => line === 'hi')).toBe(true);
  });

  it('npx conveyor group describe g shows the group caught up', async () => {
    const result = await npxConveyor(['group', 'describe', 'g']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Group g: .*total lag 0/);
    // One row per queue: TOPIC BROKER QUEUE COMMITTED MAX LAG; 8 queues on each of the 2 groups.
    const rows = result.stdout.split('\n').filter((line) => /^demo\s+broker-/.test(line)).map((line) => line.trim().split(/\s+/));
    expect(rows).toHaveLength(16);
    expect(rows.reduce((sum, row) => sum + Number(row[3]), 0)).toBe(100);
    expect(rows.every((row) => row[5] === '0')).toBe(true);
  });

  it('npx conveyor cluster down stops every process and says so', async () => {
    const result = await npxConveyor(['cluster', 'down', '--dir', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Cluster down: 5 of 5 processes were running and are stopped');
    expect(pids.some((pid) => isPidAlive(pid))).toBe(false);
  });
});
