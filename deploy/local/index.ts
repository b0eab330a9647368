// The local cluster launcher's programmatic API, for cluster tests and the chaos suite: start a
// cluster in-process (each nameserver and broker its own OS process), stop/start/pause one, read
// status, tear down; the same operations as `conveyor cluster …`, on the same state file.
export { registerClusterCommands } from './command.js';
export {
  CONVEYOR_BIN,
  KILL_WAIT_MS,
  LocalCluster,
  TERM_GRACE_MS,
  openLocalCluster,
  startLocalCluster,
  type BrokerEndpoint,
  type ClusterEndpoints,
  type LauncherEvent,
  type ProcessStatus,
  type StartClusterOptions,
  type StopOutcome,
  type StopResult,
} from './local-cluster.js';
export {
  BROKER_PORT_OFFSET,
  DEFAULT_BASE_PORT,
  DEFAULT_CLUSTER_DIR,
  DEFAULT_CLUSTER_NAME,
  FAST_BROKER_EXPIRY_MS,
  FAST_REGISTER_INTERVAL_MS,
  NAMESERVER_HTTP_OFFSET,
  brokerPorts,
  groupName,
  nameserverPorts,
  planLayout,
  type ClusterLayout,
  type ClusterOptions,
  type ProcessRole,
  type ProcessSpec,
} from './layout.js';
export { resolveClusterOptions, type ClusterOptionsInput } from './options.js';
export { checkPortsFree, pickFreeBasePort } from './ports.js';
export { STOP_SIGNALS, isPidAlive, parseStopSignal, type StopSignal } from './process-control.js';
export { READY_TIMEOUT_MS } from './readiness.js';
export { readState, stateFilePath, type ClusterState, type ProcessRecord } from './state-file.js';
