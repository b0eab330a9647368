// `conveyor bench produce|consume|e2e` as a user runs them, against real processes (one nameserver,
// one master): tiny bounded runs whose --json summaries must hold sane, non-zero numbers. Not a
// performance assertion: the standard suite (`npm run bench`) measures speed.
import { beforeAll, describe, expect, it } from 'vitest';
import type { BenchSummary } from '../../tools/bench/report.js';
import { runCli, startTestCluster, type TestCluster } from './client-fixture.js';

const MESSAGES = 2_000;

async function bench(cluster: TestCluster, args: string[]): Promise<BenchSummary> {
  const result = await runCli(cluster, ['bench', ...args, '--json'], 90_000);
  expect(result.code, result.stderr).toBe(0);
  // The progress line goes to stderr, so stdout is exactly one JSON document.
  const lines = result.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string) as BenchSummary;
}

function expectSaneLatency(summary: BenchSummary): void {
  const latency = summary.latency;
  expect(latency).not.toBeNull();
  if (latency === null) return;
  expect(latency.count).toBe(summary.messages);
  expect(latency.p50Ms).toBeGreaterThan(0);
  expect(latency.p50Ms).toBeLessThanOrEqual(latency.p90Ms);
  expect(latency.p90Ms).toBeLessThanOrEqual(latency.p99Ms);
  expect(latency.p99Ms).toBeLessThanOrEqual(latency.p999Ms);
  expect(latency.p999Ms).toBeLessThanOrEqual(latency.maxMs);
  expect(latency.maxMs).toBeLessThan(30_000);
}

describe('conveyor bench against a running cluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ groups: ['broker-a'] });
  });

  it('produce sends exactly --count messages, creates the topic and reports throughput and latency', async () => {
    const summary = await bench(cluster, ['produce', '--topic', 'bench-smoke', '--count', String(MESSAGES), '--batch', '10', '--in-flight', '8', '--queues', '4']);
    expect(summary).toMatchObject({ kind: 'produce', topic: 'bench-smoke', messages: MESSAGES, bytes: MESSAGES * 1024, errors: 0, stoppedBy: 'count' });
    expect(summary.settings).toMatchObject({ batch: 10, inFlight: 8, queues: 4, topicWas: 'created' });
    expect(summary.elapsedMs).toBeGreaterThan(0);
    expect(summary.msgsPerS).toBeGreaterThan(0);
    expect(summary.mbPerS).toBeCloseTo((summary.msgsPerS * 1024) / 1_000_000, 1);
    expectSaneLatency(summary);
  });

  it('consume reads the backlog from the first offset in a new group and commits', async () => {
    const summary = await bench(cluster, ['consume', '--topic', 'bench-smoke', '--group', 'bench-smoke-group', '--count', String(MESSAGES), '--timeout-s', '60']);
    expect(summary).toMatchObject({ kind: 'consume', messages: MESSAGES, bytes: MESSAGES * 1024, errors: 0, stoppedBy: 'count', latency: null });
    expect(summary.msgsPerS).toBeGreaterThan(0);
    expect(summary.details.timeToFirstMessageMs).toBeGreaterThanOrEqual(0);
    // Offsets were committed at shutdown: the group has no lag left on the topic.
    const again = await runCli(cluster, ['group', 'describe', 'bench-smoke-group', '--json'], 30_000);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { totalLag: number }).totalLag).toBe(0);
  });

  it('e2e receives what it sends at the given rate and measures send → receive latency', async () => {
    const summary = await bench(cluster, ['e2e', '--topic', 'bench-smoke-e2e', '--rate', '200', '--warmup-s', '1', '--duration-s', '3', '--queues', '2']);
    expect(summary.kind).toBe('e2e');
    expect(summary.errors).toBe(0);
    expect(summary.details.sent).toBeGreaterThanOrEqual(550);
    expect(summary.details.sent).toBeLessThanOrEqual(601);
    // The warm-up second is sent at the rate too, and kept out of the measured figures.
    expect(summary.details).toMatchObject({ warmupS: 1 });
    expect(summary.details.warmupSent).toBeGreaterThanOrEqual(180);
    expect(summary.details.warmupSent).toBeLessThanOrEqual(201);
    expect(summary.details.warmupReceived).toBe(summary.details.warmupSent);
    expect(summary.details.warmupP99Ms).toBeGreaterThan(0);
    expect(summary.details.received).toBe(summary.details.acked);
    expect(summary.details.duplicates).toBe(0);
    expect(summary.messages).toBe(summary.details.received);
    expectSaneLatency(summary);
  });

  it('refuses bad options with one error line naming every bad flag, and sends nothing', async () => {
    const result = await runCli(cluster, ['bench', 'produce', '--topic', 'bench-refused', '--batch', '0', '--size', 'big']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: INVALID_ARGUMENT: .*--size: 'big' is not a whole number.*--batch: 0 is outside/);
    // Nothing happened: the topic was not even created.
    const topics = await runCli(cluster, ['topic', 'list', '--json'], 30_000);
    expect(topics.code, topics.stderr).toBe(0);
    expect(JSON.parse(topics.stdout)).not.toContain('bench-refused');
    expect(JSON.parse(topics.stdout)).toContain('bench-smoke');
  });
});
