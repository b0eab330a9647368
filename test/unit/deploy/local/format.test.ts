import { describe, expect, it } from 'vitest';
import { formatStatusTable, formatStopResult, nextSteps } from '../../../../deploy/local/format.js';
import type { ClusterEndpoints, ProcessStatus } from '../../../../deploy/local/local-cluster.js';

const endpoints = (dir: string, nameservers: string[]): ClusterEndpoints => ({ dir, clusterName: 'DefaultCluster', nameservers, nameserverHttp: [], brokers: [] });

describe('cluster output', () => {
  it('suggests the README walkthrough without extra flags for the default dir and port', () => {
    const text = nextSteps(endpoints('/home/u/app/.conveyor/cluster', ['127.0.0.1:9876']), '/home/u/app');
    expect(text).toContain('npx conveyor topic create demo');
    expect(text).toContain('npx conveyor cluster down\n'.trimEnd());
    expect(text).not.toContain('CONVEYOR_NAMESERVERS');
    expect(text).not.toContain('--dir');
  });

  it('adds the nameserver export and --dir when they are not the defaults', () => {
    const text = nextSteps(endpoints('/tmp/c', ['127.0.0.1:20000', '127.0.0.1:20001']), '/tmp');
    expect(text).toContain('export CONVEYOR_NAMESERVERS=127.0.0.1:20000,127.0.0.1:20001');
    expect(text).toContain('npx conveyor cluster down --dir c');
    expect(nextSteps(endpoints('/tmp/c', ['127.0.0.1:20000']), '/home/u')).toContain('npx conveyor cluster down --dir /tmp/c');
  });

  it('shows one aligned row per process with dashes for what does not apply', () => {
    const row: ProcessStatus = {
      name: 'nameserver-0', role: 'nameserver', brokerName: null, brokerId: null, address: '127.0.0.1:9876', port: 9876, httpPort: 9976, haPort: null,
      pid: 12, state: 'ready', alive: true, replicationLagBytes: null, replicationLagMs: null, logFile: '/l', dataDir: null,
    };
    const slave: ProcessStatus = { ...row, name: 'broker-a-1', role: 'slave', brokerName: 'broker-a', brokerId: 1, pid: null, state: 'dead', alive: false, replicationLagBytes: 2048, replicationLagMs: 5 };
    const lines = formatStatusTable([row, slave]).split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ROLE\s+BROKER\s+ID\s+ADDRESS\s+HTTP\s+PID\s+STATE\s+ALIVE\s+REPLICATION LAG$/);
    expect(lines[1]).toMatch(/^nameserver-0\s+nameserver\s+-\s+-\s+127\.0\.0\.1:9876\s+9976\s+12\s+ready\s+yes\s+-$/);
    expect(lines[2]).toMatch(/^broker-a-1\s+slave\s+broker-a\s+1\s+.*\s+-\s+dead\s+no\s+2048 B \/ 5 ms$/);
    expect(lines[0]?.indexOf('ROLE')).toBe(lines[1]?.indexOf('nameserver', 5));
  });

  it('says when a TERM had to be escalated to KILL', () => {
    expect(formatStopResult({ name: 'broker-a-0', pid: 5, outcome: 'killed' }, 'TERM')).toBe('broker-a-0 killed (SIGKILL) after not exiting on SIGTERM, pid 5');
    expect(formatStopResult({ name: 'broker-a-0', pid: null, outcome: 'not running' }, 'KILL')).toBe('broker-a-0 was not running');
  });
});
