// Human output of the cluster commands: the endpoints after `up`, what to try next, the status
// table. Pure string building; command.ts prints.
import { isAbsolute, relative } from 'node:path';
import { DEFAULT_BASE_PORT, DEFAULT_CLUSTER_DIR } from './layout.js';
import type { ClusterEndpoints, ProcessStatus, StopResult } from './local-cluster.js';
import type { StopSignal } from './process-control.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function dash(value: string | number | null): string {
  return value === null ? '-' : String(value);
}

export function formatStatusTable(processes: ProcessStatus[]): string {
  return table(
    ['NAME', 'ROLE', 'BROKER', 'ID', 'ADDRESS', 'HTTP', 'PID', 'STATE', 'ALIVE', 'REPLICATION LAG'],
    processes.map((p) => [
      p.name,
      p.role,
      dash(p.brokerName),
      dash(p.brokerId),
      p.address,
      String(p.httpPort),
      dash(p.pid),
      p.state,
      p.alive ? 'yes' : 'no',
      p.replicationLagBytes === null ? '-' : `${p.replicationLagBytes} B${p.replicationLagMs === null ? '' : ` / ${p.replicationLagMs} ms`}`,
    ]),
  );
}

/** `--dir D` to repeat in later commands, or nothing when D is the default. */
function dirFlag(dir: string, cwd: string): string {
  const near = relative(cwd, dir) || '.';
  const shown = near.startsWith('..') || isAbsolute(near) ? dir : near;
  return shown === DEFAULT_CLUSTER_DIR ? '' : ` --dir ${shown.includes(' ') ? JSON.stringify(shown) : shown}`;
}

/** The walkthrough a new user types next; --dir and the nameserver list only when not the defaults. */
export function nextSteps(endpoints: ClusterEndpoints, cwd: string): string {
  const nameservers = endpoints.nameservers.join(',');
  const defaultNameservers = nameservers === `127.0.0.1:${DEFAULT_BASE_PORT}`;
  const d = dirFlag(endpoints.dir, cwd);
  const someProcess = endpoints.brokers[0]?.name ?? 'nameserver-0';
  const lines = ['Try next:'];
  if (!defaultNameservers) lines.push(`  export CONVEYOR_NAMESERVERS=${nameservers}`);
  lines.push(
    '  npx conveyor topic create demo',
    '  npx conveyor send --topic demo --body hi --count 100',
    '  npx conveyor consume --topic demo --group g --count 100',
    '  npx conveyor group describe g',
    `  npx conveyor cluster status${d}`,
    `  npx conveyor cluster stop ${someProcess}${d}    # and 'cluster start ${someProcess}${d}'`,
    `  npx conveyor cluster down${d}`,
  );
  return lines.join('\n');
}

export function formatEndpoints(endpoints: ClusterEndpoints, processes: ProcessStatus[]): string {
  return [
    `Local cluster ${endpoints.clusterName} is up: ${processes.length} processes, state and logs in ${endpoints.dir}`,
    '',
    formatStatusTable(processes),
    '',
    `Nameservers: ${endpoints.nameservers.join(',')}`,
  ].join('\n');
}

const SIGNAL_WORDS: Record<StopResult['outcome'], string> = {
  stopped: 'stopped (SIGTERM)',
  killed: 'killed (SIGKILL)',
  paused: 'paused (SIGSTOP); resume it with --signal CONT',
  resumed: 'resumed (SIGCONT)',
  'not running': 'was not running',
};

export function formatStopResult(result: StopResult, signal: StopSignal): string {
  const escalated = signal === 'TERM' && result.outcome === 'killed' ? ' after not exiting on SIGTERM' : '';
  return `${result.name} ${SIGNAL_WORDS[result.outcome]}${escalated}${result.pid === null ? '' : `, pid ${result.pid}`}`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
