// One process's status for `cluster status`: pid state from the OS, readiness and replication lag
// from its /readyz JSON.
import { formatHostPort } from '../../common/addresses.js';
import type { ProcessRole } from './layout.js';
import type { PidState } from './process-control.js';
import { probeReady } from './readiness.js';
import type { ProcessRecord } from './state-file.js';

/** What `status` shows per process. */
export interface ProcessStatus {
  name: string;
  role: ProcessRole;
  brokerName: string | null;
  brokerId: number | null;
  address: string;
  port: number;
  httpPort: number;
  haPort: number | null;
  /** The live process's pid; null when it is not running. */
  pid: number | null;
  /** ready: /readyz 200; starting: running, not ready; paused: SIGSTOPped; dead: not running. */
  state: 'ready' | 'starting' | 'paused' | 'dead';
  /** Pid alive and /readyz answered 200. */
  alive: boolean;
  /** From the broker's /readyz `replicationLagBytes`; null until replication reports it. */
  replicationLagBytes: number | null;
  replicationLagMs: number | null;
  logFile: string;
  dataDir: string | null;
}

/** A JSON number, or a decimal string (int64 fields may be rendered as strings); else null. */
function numberOrNull(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return null;
}

export async function statusOf(p: ProcessRecord, pid: PidState): Promise<ProcessStatus> {
  const running = pid !== 'gone';
  const probe = pid === 'running' ? await probeReady(p.host, p.httpPort) : { ready: false, status: null };
  const state: ProcessStatus['state'] = pid === 'gone' ? 'dead' : pid === 'paused' ? 'paused' : probe.ready ? 'ready' : 'starting';
  return {
    name: p.name,
    role: p.role,
    brokerName: p.brokerName,
    brokerId: p.brokerId,
    address: formatHostPort(p.host, p.port),
    port: p.port,
    httpPort: p.httpPort,
    haPort: p.haPort,
    pid: running ? p.pid : null,
    state,
    alive: running && probe.ready,
    replicationLagBytes: p.role === 'nameserver' ? null : numberOrNull(probe.status?.['replicationLagBytes']),
    replicationLagMs: p.role === 'nameserver' ? null : numberOrNull(probe.status?.['replicationLagMs']),
    logFile: p.logFile,
    dataDir: p.dataDir,
  };
}
