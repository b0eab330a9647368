// The short chaos run inside `npm test`: the full harness (real processes, proxies, the workload)
// for 75 s with a fault about every 12 s, one of each kind (kill a master, a slave, a nameserver,
// pause a broker, cut a replication link), sync replication. Every acknowledged message must be
// delivered and no queue may be delivered out of order.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/processes.js';
import { runChaos } from './chaos-run.js';

/** Fixed seed: its schedule kills a master and a slave, pauses a master, cuts a link and kills a nameserver. */
const SEED = 'short-3';

describe('short chaos run', () => {
  const reportDir = tempDir('conveyor-chaos-short-');

  it('loses no acknowledged message and keeps every queue in order while processes die, freeze and lose their replication link', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      seed: SEED,
      durationS: 75,
      killEveryS: 12,
      replication: 'sync',
      ratePerProducer: 150,
      weights: { 'kill-master': 1, 'kill-slave': 1, 'kill-nameserver': 1, 'pause-broker': 1, 'cut-replication': 1 },
      drainTimeoutMs: 30_000,
      // The cluster's own temp dir is removed when the run passes and kept (logs) when it fails.
      reportFile: join(reportDir, 'chaos-report.json'),
      print: (line) => lines.push(line),
    });
    const context = lines.join('\n');
    // Only the link cut may be skipped (when the brokers cannot be cut that way: the report says why).
    expect(report.faults.filter((f) => f.skipped !== null && f.kind !== 'cut-replication'), context).toEqual([]);
    expect(report.faults.map((f) => f.kind), context).toContain('kill-master');
    expect(report.verdict.acknowledged, context).toBeGreaterThan(5_000);
    expect(report.verdict.lost, context).toBe(0);
    expect(report.verdict.orderViolations, context).toBe(0);
    expect(report.verdict.unknownDeliveries, context).toBe(0);
    expect(report.drained, context).toBe(true);
    expect(report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`), context).toEqual([]);
  });
});
