// The data and admin commands of the `conveyor` CLI as a user types them, against real processes:
// output checked in text and --json, and bad input giving one stderr line and a non-zero exit.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONVEYOR_BIN, REPO_ROOT, freshShellEnv } from '../helpers/processes.js';
import { runCli, startTestCluster, type CliResult, type TestCluster } from './client-fixture.js';

function jsonLines(out: string): Array<Record<string, unknown>> {
  return out.split('\n').filter((line) => line.trim().length > 0).map((line) => JSON.parse(line) as Record<string, unknown>);
}

function expectOneErrorLine(result: CliResult, code: string): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^error: ${code}: \\S`));
}

describe('conveyor CLI: topics, send, consume, groups, messages', () => {
  let cluster: TestCluster;
  let sentIds: string[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
  });

  it('topic create makes a topic on every master and says so; --json gives the details', async () => {
    const text = await runCli(cluster, ['topic', 'create', 'cli-demo', '--queues', '4']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Created topic cli-demo with 4 queues on broker-a, broker-b');
    const json = await runCli(cluster, ['topic', 'create', 'cli-other', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ topic: 'cli-other', brokers: ['broker-a', 'broker-b'], queues: 8, routed: true });
  });

  it('topic list and describe show the topics and their queues', async () => {
    const list = await runCli(cluster, ['topic', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining(['cli-demo', 'cli-other']));
    const text = await runCli(cluster, ['topic', 'list']);
    expect(text.stdout.split('\n')).toEqual(expect.arrayContaining(['cli-demo', 'cli-other']));
    const describe = await runCli(cluster, ['topic', 'describe', 'cli-demo']);
    expect(describe.code, describe.stderr).toBe(0);
    expect(describe.stdout).toMatch(/^broker-b\s+3\s+0\s+0\s+0/m);
    expect(describe.stdout).toContain('8 queues, 0 messages stored');
  });

  it('send --count --json prints one line per acknowledged message', async () => {
    const result = await runCli(cluster, ['send', '--topic', 'cli-demo', '--body', 'hello cli', '--key', 'order-1', '--tag', 'created', '--count', '40', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(40);
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['broker', 'id', 'queue', 'queueOffset', 'status']);
      expect(line.status).toBe('OK');
      expect(line.id).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(lines.map((l) => l.broker))).toEqual(new Set(['broker-a', 'broker-b']));
    sentIds = lines.map((l) => String(l.id));
  });

  it('send prints a summary in text', async () => {
    const result = await runCli(cluster, ['send', '--topic', 'cli-demo', '--body', 'second wave', '--count', '10']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Sent 10 of 10 messages to topic cli-demo in [\d.]+ s \(OK: 10; broker-a: \d+, broker-b: \d+\)\n$/);
  });

  it('consume --json prints id, queue, offset, keys, tag and body per message and stops at --count', async () => {
    const result = await runCli(cluster, ['consume', '--topic', 'cli-demo', '--group', 'cli-group', '--count', '40', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(40);
    for (const line of lines) expect(line).toMatchObject({ topic: 'cli-demo', queue: expect.any(Number), offset: expect.any(Number), id: expect.any(String) });
    const first = lines.filter((l) => l.body === 'hello cli');
    expect(first.length).toBeGreaterThan(0);
    expect(first[0]).toMatchObject({ keys: ['order-1'], tag: 'created' });
  });

  it('consume prints the rest of the group backlog, one body per line, then stops at its timeout', async () => {
    const result = await runCli(cluster, ['consume', '--topic', 'cli-demo', '--group', 'cli-group', '--timeout-ms', '3000']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(10);
    expect(result.stderr).toContain('Received 10 messages from topic cli-demo as group cli-group');
  });

  it('group describe shows committed offset, max offset and lag per queue', async () => {
    const json = await runCli(cluster, ['group', 'describe', 'cli-group', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const description = JSON.parse(json.stdout) as { group: string; totalLag: number; queues: Array<{ topic: string; committedOffset: number | null; maxOffset: number; lag: number }> };
    expect(description.group).toBe('cli-group');
    expect(description.totalLag).toBe(0);
    const ours = description.queues.filter((q) => q.topic === 'cli-demo');
    expect(ours).toHaveLength(8);
    expect(ours.reduce((sum, q) => sum + q.maxOffset, 0)).toBe(50);
    for (const q of ours) expect(q.committedOffset).toBe(q.maxOffset);
    const text = await runCli(cluster, ['group', 'describe', 'cli-group']);
    expect(text.stdout).toContain('Group cli-group: 0 live members, total lag 0');
    expect(text.stdout).toMatch(/^TOPIC\s+BROKER\s+QUEUE\s+COMMITTED\s+MAX\s+LAG$/m);
    const list = await runCli(cluster, ['group', 'list']);
    expect(list.stdout.split('\n')).toContain('cli-group');
  });

  it('message get finds a message by id and by key', async () => {
    const id = sentIds[0] as string;
    const byId = await runCli(cluster, ['message', 'get', '--id', id]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toContain(`id:         ${id}`);
    expect(byId.stdout).toContain('body:       hello cli');
    const byKey = await runCli(cluster, ['message', 'get', '--topic', 'cli-demo', '--key', 'order-1', '--json']);
    expect(byKey.code, byKey.stderr).toBe(0);
    const found = JSON.parse(byKey.stdout) as Array<{ id: string; keys: string[] }>;
    expect(found.length).toBeGreaterThan(0);
    for (const m of found) expect(m.keys).toContain('order-1');
    expect(sentIds).toEqual(expect.arrayContaining(found.map((m) => m.id)));
  });

  it('answers bad input with one stderr line and a non-zero exit', async () => {
    expectOneErrorLine(await runCli(cluster, ['send', '--topic', 'bad topic!', '--body', 'x']), 'INVALID_NAME');
    expectOneErrorLine(await runCli(cluster, ['topic', 'describe', 'never-created']), 'TOPIC_NOT_FOUND');
    expectOneErrorLine(await runCli(cluster, ['consume', '--topic', 'never-created', '--group', 'g', '--count', '1']), 'TOPIC_NOT_FOUND');
    expectOneErrorLine(await runCli(cluster, ['group', 'describe', 'never-seen']), 'GROUP_NOT_FOUND');
    expectOneErrorLine(await runCli(cluster, ['message', 'get', '--id', 'no-such-id']), 'MESSAGE_NOT_FOUND');
    // Usage errors are commander's: exit 2.
    const usage = await runCli(cluster, ['send', '--topic', 'cli-demo', '--body', 'x', '--count', 'many']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("error: option '--count <n>' argument 'many' is invalid");
    expect((await runCli(cluster, ['send', '--topic', 'cli-demo'])).code).toBe(2);
  });

  it('ends quietly with exit 0 when its reader goes away (consume … | head)', async () => {
    const child = spawn(process.execPath, [CONVEYOR_BIN, 'consume', '--topic', 'cli-demo', '--group', 'cli-pipe', '--count', '20', '--json'], {
      cwd: REPO_ROOT,
      env: freshShellEnv({ CONVEYOR_NAMESERVERS: cluster.nameservers }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before the first line is written
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });
});
