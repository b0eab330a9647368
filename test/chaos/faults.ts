// Fault injectors: each planned fault is injected, held for its time, and healed, through the
// local cluster launcher (SIGKILL + restart, SIGSTOP + SIGCONT) or the broker proxies (a silent
// cut of a slave's replication link). Also: the capability check for the link cut, and the
// "everything healthy again" step at the end of a run.
import type { LocalCluster } from '../../deploy/local/index.js';
import type { ExecutedFault } from './recovery.js';
import type { PlannedFault } from './schedule.js';
import type { TcpProxy } from './tcp-proxy.js';

/** How long the capability check waits for every slave to show a connection through its master's proxy. */
export const LINK_CHECK_WAIT_MS = 15_000;
const LINK_CHECK_POLL_MS = 250;

export interface FaultTools {
  readonly cluster: LocalCluster;
  /** Proxy in front of each broker, by process name (`broker-a-0`). */
  readonly proxies: ReadonlyMap<string, TcpProxy>;
  /** Why cut-replication cannot run, or undefined when it can. */
  readonly linkCutUnavailable: string | undefined;
  /** Milliseconds since the workload started. */
  readonly now: () => number;
  readonly print: (line: string) => void;
}

/** The broker group a fault hits (`broker-a-1` → `broker-a`), or undefined for a nameserver. */
export function brokerGroupOf(fault: Pick<PlannedFault, 'kind' | 'target'>): string | undefined {
  if (fault.kind === 'cut-replication') return fault.target;
  if (fault.kind === 'kill-nameserver') return undefined;
  return fault.target.replace(/-\d+$/, '');
}

/** Injects, holds and heals one fault; resolves once it is healed (the process is ready again). */
export async function runFault(tools: FaultTools, fault: PlannedFault): Promise<ExecutedFault> {
  const { cluster } = tools;
  const base = { index: fault.index, kind: fault.kind, target: fault.target, brokerName: brokerGroupOf(fault) };
  switch (fault.kind) {
    case 'kill-master':
    case 'kill-slave':
    case 'kill-nameserver': {
      const injectedAtMs = tools.now();
      await cluster.stop(fault.target, 'KILL');
      tools.print(`fault ${fault.index}: SIGKILL ${fault.target} at ${seconds(injectedAtMs)}, restart in ${seconds(fault.healAfterMs)}`);
      await delay(Math.max(0, injectedAtMs + fault.healAfterMs - tools.now()));
      await cluster.start(fault.target);
      return { ...base, injectedAtMs, healedAtMs: tools.now() };
    }
    case 'pause-broker': {
      const injectedAtMs = tools.now();
      await cluster.stop(fault.target, 'STOP');
      tools.print(`fault ${fault.index}: SIGSTOP ${fault.target} at ${seconds(injectedAtMs)}, SIGCONT in ${seconds(fault.healAfterMs)}`);
      await delay(Math.max(0, injectedAtMs + fault.healAfterMs - tools.now()));
      await cluster.stop(fault.target, 'CONT');
      return { ...base, injectedAtMs, healedAtMs: tools.now() };
    }
    case 'cut-replication': {
      const injectedAtMs = tools.now();
      if (tools.linkCutUnavailable !== undefined) {
        tools.print(`fault ${fault.index}: cut-replication ${fault.target} skipped: ${tools.linkCutUnavailable}`);
        return { ...base, injectedAtMs, healedAtMs: injectedAtMs, skipped: tools.linkCutUnavailable };
      }
      const proxy = tools.proxies.get(`${fault.target}-0`);
      const slavePid = cluster.process(`${fault.target}-1`).pid;
      if (proxy === undefined || slavePid === null) {
        const why = proxy === undefined ? 'no proxy in front of the master' : 'the slave is not running';
        return { ...base, injectedAtMs, healedAtMs: injectedAtMs, skipped: why };
      }
      const frozen = await proxy.cut(slavePid);
      tools.print(`fault ${fault.index}: replication link ${fault.target} cut at ${seconds(injectedAtMs)} (${frozen} connection(s) frozen), healed in ${seconds(fault.healAfterMs)}`);
      await delay(Math.max(0, injectedAtMs + fault.healAfterMs - tools.now()));
      proxy.heal();
      return { ...base, injectedAtMs, healedAtMs: tools.now() };
    }
    default: {
      const never: never = fault.kind;
      throw new Error(`unknown fault kind ${String(never)}`);
    }
  }
}

/**
 * Can the replication link be cut? Only when each slave reaches its master through the master's
 * proxy, i.e. the master registers the advertised (proxy) address as its replication address.
 * Resolves undefined when it can, else the reason.
 */
export async function checkLinkCut(cluster: LocalCluster, proxies: ReadonlyMap<string, TcpProxy>, groups: readonly string[]): Promise<string | undefined> {
  const deadline = Date.now() + LINK_CHECK_WAIT_MS;
  const missing = new Set(groups);
  while (missing.size > 0 && Date.now() < deadline) {
    for (const group of [...missing]) {
      const proxy = proxies.get(`${group}-0`);
      const slavePid = cluster.process(`${group}-1`).pid;
      if (proxy !== undefined && slavePid !== null && (await proxy.connectionsOf(slavePid)) > 0) missing.delete(group);
    }
    if (missing.size > 0) await delay(LINK_CHECK_POLL_MS);
  }
  if (missing.size === 0) return undefined;
  return `no slave connection through the master's proxy within ${LINK_CHECK_WAIT_MS / 1000} s for ${[...missing].join(', ')} (replication not running, or the slave dials an address other than the master's advertised one)`;
}

/** Ends every fault: resumes paused processes, starts dead ones, heals every link. */
export async function healEverything(cluster: LocalCluster, proxies: ReadonlyMap<string, TcpProxy>): Promise<string[]> {
  const actions: string[] = [];
  for (const proxy of proxies.values()) proxy.heal();
  for (const status of await cluster.status()) {
    if (status.state === 'paused') {
      await cluster.stop(status.name, 'CONT');
      actions.push(`resumed ${status.name}`);
    } else if (status.state === 'dead') {
      await cluster.start(status.name);
      actions.push(`started ${status.name}`);
    }
  }
  return actions;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
