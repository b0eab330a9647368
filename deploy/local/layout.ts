// Layout planning for a local cluster: from the launcher's options to one spec per process (name,
// role, ports, data dir, log file, the exact `conveyor …` arguments). Pure: no I/O, so the same plan
// is computed by `cluster up`, tested directly and written to the state file.
import { join } from 'node:path';
import { assert } from '../../common/errors.js';
import { formatHostPort } from '../../common/addresses.js';

export type ProcessRole = 'nameserver' | 'master' | 'slave';
export type FlushMode = 'async' | 'sync';
export type ReplicationMode = 'async' | 'sync';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Most nameservers one local cluster runs: their ports are P+i and P+HTTP_OFFSET+i. */
export const NAMESERVERS_MAX = 10;
/** Most broker groups: named broker-a … broker-z, one letter each. */
export const GROUPS_MAX = 26;
/** Most slaves per group: a group's ids 0…9 fit its BROKER_ID_STRIDE-wide port slots. */
export const SLAVES_MAX = 9;

/** nameserver-i listens on basePort+i (gRPC) and basePort+NAMESERVER_HTTP_OFFSET+i (HTTP). */
export const NAMESERVER_HTTP_OFFSET = 100;
/** Brokers start at basePort+1035: 10911 with the default base 9876, RocketMQ's familiar port. */
export const BROKER_PORT_OFFSET = 1035;
/** Port distance between broker groups (broker-a 10911…, broker-b 11011…). */
const GROUP_PORT_STRIDE = 100;
/** Port distance between the brokers of one group (id 0 at 10911, id 1 at 10921). */
const BROKER_ID_STRIDE = 10;
/** Within one broker's slot: gRPC at +0, HTTP at +1, replication (HA) at +2. */
const BROKER_HTTP_DELTA = 1;
const BROKER_HA_DELTA = 2;
/**
 * The broker's flag for a separate replication port, or null while replication shares the gRPC
 * port. With null the +2 slot stays reserved (unused) and no process gets an HA port.
 */
const BROKER_HA_PORT_FLAG: string | null = null;

export const DEFAULT_BASE_PORT = 9876;
export const DEFAULT_CLUSTER_NAME = 'DefaultCluster';
export const DEFAULT_CLUSTER_DIR = join('.conveyor', 'cluster');

/** `--fast-heartbeats`: brokers register every second and nameservers drop them after 3 s. */
export const FAST_REGISTER_INTERVAL_MS = 1_000;
export const FAST_BROKER_EXPIRY_MS = 3_000;

/** Validated launcher options (see options.ts for how they are read and checked). */
export interface ClusterOptions {
  /** Absolute cluster directory: state file, data/<name>, logs/<name>.log. */
  dir: string;
  nameservers: number;
  groups: number;
  slaves: number;
  basePort: number;
  /** Address every process listens on and advertises; loopback for a local cluster. */
  host: string;
  clusterName: string;
  flush: FlushMode;
  replication: ReplicationMode;
  autoCreateTopics: boolean;
  logLevel: LogLevel;
  /** Passed to nameservers as --broker-expiry-ms when set. */
  brokerExpiryMs: number | null;
  /** Passed to brokers as --register-interval-ms when set. */
  registerIntervalMs: number | null;
  /** Extra arguments appended to every nameserver / broker command line, verbatim. */
  nameserverArgs: string[];
  brokerArgs: string[];
}

export interface ProcessSpec {
  name: string;
  role: ProcessRole;
  /** broker-a, broker-b, …; null for nameservers. */
  brokerName: string | null;
  /** 0 for a master, 1… for slaves; null for nameservers. */
  brokerId: number | null;
  host: string;
  port: number;
  httpPort: number;
  /** The broker's replication port; null for nameservers. */
  haPort: number | null;
  /** Arguments after `conveyor`, e.g. ['broker', '--cluster', 'DefaultCluster', …]. */
  args: string[];
  /** Brokers' data directory; null for nameservers (they keep no data). */
  dataDir: string | null;
  logFile: string;
}

export interface ClusterLayout {
  options: ClusterOptions;
  /** Nameservers first, then brokers by group and id: the order processes are started in. */
  processes: ProcessSpec[];
}

/** broker-a for group 0, broker-b for group 1, … */
export function groupName(group: number): string {
  assert(Number.isInteger(group) && group >= 0 && group < GROUPS_MAX, `group index ${group} out of range`);
  return `broker-${String.fromCharCode('a'.charCodeAt(0) + group)}`;
}

export function nameserverPorts(basePort: number, index: number): { port: number; httpPort: number } {
  return { port: basePort + index, httpPort: basePort + NAMESERVER_HTTP_OFFSET + index };
}

export function brokerPorts(basePort: number, group: number, brokerId: number): { port: number; httpPort: number; haPort: number } {
  const port = basePort + BROKER_PORT_OFFSET + group * GROUP_PORT_STRIDE + brokerId * BROKER_ID_STRIDE;
  return { port, httpPort: port + BROKER_HTTP_DELTA, haPort: port + BROKER_HA_DELTA };
}

/** The highest port a layout with these counts uses (to check it stays ≤ 65535). */
export function highestPort(options: Pick<ClusterOptions, 'basePort' | 'nameservers' | 'groups' | 'slaves'>): number {
  const nameserverTop = nameserverPorts(options.basePort, options.nameservers - 1).httpPort;
  const brokerTop = options.groups > 0 ? brokerPorts(options.basePort, options.groups - 1, options.slaves).haPort : 0;
  return Math.max(nameserverTop, brokerTop);
}

function nameserverAddresses(options: Pick<ClusterOptions, 'basePort' | 'nameservers' | 'host'>): string[] {
  return Array.from({ length: options.nameservers }, (_, i) => formatHostPort(options.host, nameserverPorts(options.basePort, i).port));
}

function nameserverSpec(options: ClusterOptions, index: number): ProcessSpec {
  const name = `nameserver-${index}`;
  const { port, httpPort } = nameserverPorts(options.basePort, index);
  const args = ['nameserver', '--host', options.host, '--advertised-host', options.host, '--port', String(port), '--http-port', String(httpPort), '--log-level', options.logLevel];
  if (options.brokerExpiryMs !== null) args.push('--broker-expiry-ms', String(options.brokerExpiryMs));
  args.push(...options.nameserverArgs);
  return { name, role: 'nameserver', brokerName: null, brokerId: null, host: options.host, port, httpPort, haPort: null, args, dataDir: null, logFile: join(options.dir, 'logs', `${name}.log`) };
}

function brokerSpec(options: ClusterOptions, group: number, brokerId: number): ProcessSpec {
  const brokerName = groupName(group);
  const name = `${brokerName}-${brokerId}`;
  const { port, httpPort, haPort } = brokerPorts(options.basePort, group, brokerId);
  const dataDir = join(options.dir, 'data', name);
  const args = [
    'broker',
    '--cluster', options.clusterName,
    '--name', brokerName,
    '--id', String(brokerId),
    '--host', options.host,
    '--advertised-host', options.host,
    '--port', String(port),
    '--http-port', String(httpPort),
    '--nameservers', nameserverAddresses(options).join(','),
    '--data', dataDir,
    '--flush', options.flush,
    '--replication', options.replication,
    '--auto-create-topics', String(options.autoCreateTopics),
    '--log-level', options.logLevel,
  ];
  if (options.registerIntervalMs !== null) args.push('--register-interval-ms', String(options.registerIntervalMs));
  if (BROKER_HA_PORT_FLAG !== null) args.push(BROKER_HA_PORT_FLAG, String(haPort));
  args.push(...options.brokerArgs);
  return {
    name,
    role: brokerId === 0 ? 'master' : 'slave',
    brokerName,
    brokerId,
    host: options.host,
    port,
    httpPort,
    haPort: BROKER_HA_PORT_FLAG === null ? null : haPort,
    args,
    dataDir,
    logFile: join(options.dir, 'logs', `${name}.log`),
  };
}

/** Every process of the cluster, nameservers first. The options must already be validated. */
export function planLayout(options: ClusterOptions): ClusterLayout {
  assert(options.nameservers >= 1 && options.nameservers <= NAMESERVERS_MAX, 'nameserver count out of range');
  assert(options.groups >= 0 && options.groups <= GROUPS_MAX, 'group count out of range');
  assert(options.slaves >= 0 && options.slaves <= SLAVES_MAX, 'slave count out of range');
  assert(highestPort(options) <= 65_535, 'layout ports above 65535');
  const processes: ProcessSpec[] = [];
  for (let i = 0; i < options.nameservers; i++) processes.push(nameserverSpec(options, i));
  for (let g = 0; g < options.groups; g++) {
    for (let id = 0; id <= options.slaves; id++) processes.push(brokerSpec(options, g, id));
  }
  return { options, processes };
}

/** Every port a process uses, for the free-port check before start. */
export function portsOf(spec: ProcessSpec): Array<{ port: number; what: string }> {
  const ports = [
    { port: spec.port, what: `${spec.name} gRPC` },
    { port: spec.httpPort, what: `${spec.name} HTTP` },
  ];
  if (spec.haPort !== null) ports.push({ port: spec.haPort, what: `${spec.name} replication` });
  return ports;
}
