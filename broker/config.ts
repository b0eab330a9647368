// Broker settings: one schema, loaded by common/config.ts (defaults < file < CONVEYOR_* env <
// flags). Every setting works from the environment alone (Kubernetes), e.g. CONVEYOR_BROKER_NAME.
import { COMMON_SETTINGS, parseSettingFlags, type ConfigOf, type Schema } from '../common/config.js';
import { NAME_PATTERN } from '../common/names.js';
import { METADATA_SYNC_INTERVAL_MS_DEFAULT, REPLICATION_MODES, SYNC_REPLICATION_TIMEOUT_MS_DEFAULT } from './replication/index.js';
import { OPEN_FILES_BUDGET_MAX } from './store/open-files-budget.js';
import { SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN } from './store/store-limits.js';

const NAME_HINT = '1 to 127 characters of A-Z a-z 0-9 _ % -';

export const BROKER_SETTINGS = {
  ...COMMON_SETTINGS,
  clusterName: { kind: 'string', default: 'DefaultCluster', pattern: NAME_PATTERN, patternHint: NAME_HINT, flag: '--cluster', description: 'cluster this broker group belongs to' },
  brokerName: { kind: 'string', pattern: NAME_PATTERN, patternHint: NAME_HINT, flag: '--name', description: 'broker group name, e.g. broker-a (required)' },
  brokerId: { kind: 'int', default: 0, min: 0, max: 1023, flag: '--id', description: '0 = master, 1 and up = slave' },
  port: { kind: 'int', default: 10911, min: 0, max: 65535, description: 'gRPC port of the broker service (0 = ephemeral)' },
  httpPort: { kind: 'int', default: 10921, min: 0, max: 65535, description: 'HTTP port of /healthz, /readyz, /metrics (0 = ephemeral)' },
  nameservers: { kind: 'list', default: ['127.0.0.1:9876'], description: 'nameserver addresses host:port, comma-separated; the broker registers with every one' },
  dataDir: { kind: 'string', flag: '--data', description: 'directory of the commit log, consume queues and metadata (required)' },
  flushMode: { kind: 'enum', default: 'async', values: ['async', 'sync'] as const, flag: '--flush', description: 'sync: acknowledge a send only after an fsync covering it' },
  replicationMode: { kind: 'enum', default: 'async', values: REPLICATION_MODES, flag: '--replication', description: 'sync: a master acknowledges a send once a slave has flushed it (else the result says SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE)' },
  replicationTimeoutMs: { kind: 'int', default: SYNC_REPLICATION_TIMEOUT_MS_DEFAULT, min: 1, max: 60_000, description: 'sync replication: longest a send waits for a slave (also capped by the call deadline minus 200 ms)' },
  metadataSyncIntervalMs: { kind: 'int', default: METADATA_SYNC_INTERVAL_MS_DEFAULT, min: 100, max: 3_600_000, description: 'slave: interval of copying topic configs, group configs and consumer offsets from the master' },
  autoCreateTopics: { kind: 'bool', default: false, description: 'create an unknown topic on its first send, with defaultQueueCount queues' },
  defaultQueueCount: { kind: 'int', default: 8, min: 1, max: 1024, description: 'queue count of auto-created topics' },
  registerIntervalMs: { kind: 'int', default: 10_000, min: 100, max: 600_000, description: 'interval of registration heartbeats to every nameserver' },
  segmentBytes: { kind: 'int', default: SEGMENT_BYTES_DEFAULT, min: SEGMENT_BYTES_MIN, max: SEGMENT_BYTES_MAX, description: 'commit-log segment file size' },
  flushIntervalMs: { kind: 'int', default: 500, min: 1, max: 60_000, description: 'async flush: interval between fsyncs' },
  openFilesMax: { kind: 'int', default: 0, min: 0, max: OPEN_FILES_BUDGET_MAX, description: 'store files (segments, consume-queue files) open at once at most; 0 = what the open-files limit leaves after LevelDB and sockets (docs/storage.md "Open files")' },
  retentionHours: { kind: 'int', default: 72, min: 1, max: 24 * 365 * 10, description: 'commit-log segments older than this are deleted' },
  longPollMaxMs: { kind: 'int', default: 15_000, min: 0, max: 120_000, description: 'longest a pull that found nothing is held' },
  dedupWindowMs: { kind: 'int', default: 120_000, min: 0, max: 24 * 3600 * 1000, description: 'a message id seen within this time is answered with its original result (0 = off)' },
  consumerExpiryMs: { kind: 'int', default: 30_000, min: 1_000, max: 600_000, description: 'a consumer without a heartbeat for this long leaves its group' },
  gcMetrics: { kind: 'bool', default: false, description: 'export nodejs_gc_duration_seconds (a PerformanceObserver entry per GC; it grows the old generation between full GCs)' },
} as const satisfies Schema;

export type BrokerConfig = ConfigOf<typeof BROKER_SETTINGS>;

/**
 * One flag per setting (`--cluster`, `--name`, `--id`, `--data`, `--flush`, `--replication`, the
 * rest derived: `--auto-create-topics`, `--long-poll-max-ms` …). No flag has a default, so the
 * environment and the config file apply when a flag is not given. Booleans take an optional
 * value: `--auto-create-topics` alone means true.
 */
export function parseBrokerFlags(args: string[]): Record<string, unknown> {
  return parseSettingFlags('conveyor broker', 'run a broker: stores topics in a commit log and serves sends, pulls, offsets and admin calls', BROKER_SETTINGS, args);
}

