import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { caseResult, formatMarkdown, gap, median, meets, parseRss } from '../../../../tools/bench/suite-report.js';

const atLeast = { comparison: '>=' as const, value: 150_000, text: '≥ 150,000 msgs/s' };
const atMost = { comparison: '<=' as const, value: 5, text: 'p99 ≤ 5 ms' };
const machine = { cores: 2, cpuModel: 'Test CPU', memoryGiB: 24, node: 'v20.20.2', loadStart: 0.5, loadEnd: 1.25, cpuPressureStart: 3.5, cpuPressureEnd: 12 };

describe('suite figures', () => {
  it('takes the median of odd and even run counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it('judges targets in both directions', () => {
    expect(meets(atLeast, 150_000)).toBe(true);
    expect(meets(atLeast, 149_999)).toBe(false);
    expect(meets(atMost, 5)).toBe(true);
    expect(meets(atMost, 5.1)).toBe(false);
  });

  it('reduces runs to median, min and max and says by how much a target is missed', () => {
    const r = caseResult({ id: 'p', title: 'produce', unit: 'msgs/s', target: atLeast, values: [60_000, 50_000, 55_000] });
    expect([r.median, r.min, r.max, r.met, r.status]).toEqual([55_000, 50_000, 60_000, false, 'measured']);
    expect(gap(r)).toBe('-63 %');
    const e2e = caseResult({ id: 'e', title: 'e2e', unit: 'ms', target: atMost, values: [6, 6.1, 5.9] });
    expect(gap(e2e)).toBe('+20 %');
  });

  it('never judges an informational row', () => {
    const r = caseResult({ id: 'g', title: 'grpc floor', unit: 'calls/s', target: { comparison: 'none', value: 0, text: '(no target)' }, values: [5_000] });
    expect([r.median, r.met]).toEqual([5_000, null]);
  });

  it('keeps a pending case without figures', () => {
    const r = caseResult({ id: 's', title: 'sync', unit: 'msgs/s', target: atLeast, values: [], status: 'pending', note: 'replication not wired' });
    expect([r.median, r.met, r.status]).toEqual([null, null, 'pending']);
  });

  it('writes the machine line and one table row per case', () => {
    const text = formatMarkdown(machine, [
      caseResult({ id: 'p', title: 'produce batched', unit: 'msgs/s', target: atLeast, values: [160_000, 155_500, 170_000], extra: { 'p99 send → ack': '4.1 ms' } }),
      caseResult({ id: 's', title: 'sync | flush', unit: 'msgs/s', target: atLeast, values: [], status: 'pending', note: 'needs replication' }),
    ], 3);
    expect(text).toContain('Machine: 2 cores (Test CPU), 24.0 GiB memory, Node v20.20.2; load average 0.50 at start, 1.25 at end; CPU pressure (PSI some avg60) 3.5 % at start, 12 % at end');
    expect(text).toContain('median of 3 runs');
    expect(text).toContain('| produce batched | ≥ 150,000 msgs/s | 160,000 msgs/s (155,500–170,000) | yes | p99 send → ack 4.1 ms |  |');
    expect(text).toContain('| sync \\| flush | ≥ 150,000 msgs/s | pending | – |  | needs replication |');
  });

  it('reads total, anonymous and file-backed RSS from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmHWM:\t  180000 kB\nVmRSS:\t  173952 kB\nRssAnon:\t  105200 kB\nRssFile:\t   68752 kB\nRssShmem:\t       0 kB\n';
    expect(parseRss(status)).toEqual({ total: 173952, anon: 105200, file: 68752 });
    expect(parseRss('Name:\tkthreadd\n')).toEqual({ total: 0, anon: 0, file: 0 });
    // This process: the parts add up to the total (Linux; shmem is the rest, ~0 here).
    const self = parseRss(readFileSync('/proc/self/status', 'utf8'));
    expect(self.anon).toBeGreaterThan(0);
    expect(self.file).toBeGreaterThan(0);
    expect(Math.abs(self.total - self.anon - self.file)).toBeLessThan(self.total * 0.05);
  });
});
