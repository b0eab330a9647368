// Replication of a broker group (DESIGN.md §4, docs/replication.md): the subsystem's one facade.
// What the broker wires in ("Wiring into the broker") is one object per process whatever the
// role, so broker.ts wires master and slave the same way:
//   master (brokerId 0): serves the Replication service next to BrokerService; in sync mode a
//                        send waits for a slave (ReplicationView.sync);
//   slave (brokerId ≥ 1): copies the master's commit log and metadata; learns the master's
//                        address from the nameservers' registration answers.
// Either way: lag for /readyz, GetBrokerStatus and the gauges, and a close before the store's.
// The roles themselves are assembled in roles.ts; the rest of the broker imports only this file.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { conveyor, ReplicationHandlers } from '../../proto/index.js';
import type { ReplicationGauges } from '../metrics.js';
import type { MessageStore } from '../store/index.js';
import type { TopicManager } from '../topics/topics.js';
import { metadataTargetThrough, type MetadataTarget } from './metadata-sync.js';
import { REPLICATION_FLOW_CONTROL_WINDOW_BYTES } from './ha-slave.js';
import type { MasterLag, ReplicationWaitCode } from './replication-progress.js';
import { createReplicationMaster, startReplicationSlave, type ReplicationMaster, type ReplicationSlaveHandle } from './roles.js';

export {
  createReplicationMaster,
  startReplicationSlave,
  type ReplicationMaster,
  type ReplicationMasterOptions,
  type ReplicationSlaveHandle,
  type ReplicationSlaveStartOptions,
} from './roles.js';
export type { MasterLag, SlaveLag, ReplicationEvent, ReplicationWaitCode } from './replication-progress.js';
export type { SlaveLagView, SlaveStatus } from './ha-slave.js';
export type { MetadataApplied, MetadataTarget, MetadataSource, OffsetEntry } from './metadata-sync.js';
export type { MasterStore, SlaveStore } from './store-port.js';
export type { ReplicationIdentity } from './handshake.js';
export { IN_SYNC_LAG_BYTES_MAX, IN_SYNC_REPORT_AGE_MS_MAX, SYNC_REPLICATION_TIMEOUT_MS_DEFAULT, SYNC_WAITERS_MAX, SLAVES_MAX } from './replication-progress.js';
export { REPLICATION_CHUNK_BYTES_MAX, REPLICATION_KEEPALIVE_INTERVAL_MS, SLAVE_SILENCE_MS_MAX } from './ha-master.js';
export { SLAVE_REPORT_INTERVAL_MS, MASTER_SILENCE_MS_MAX, REPLICATION_FLOW_CONTROL_WINDOW_BYTES } from './ha-slave.js';
export { RECONNECT_BACKOFF_BASE_MS, RECONNECT_BACKOFF_MAX_MS } from './reconnect-backoff.js';
export { METADATA_SYNC_INTERVAL_MS_DEFAULT, metadataTargetThrough, type TopicCache } from './metadata-sync.js';

/** The replication modes of the broker's replicationMode setting (broker/config.ts). */
export const REPLICATION_MODES = ['async', 'sync'] as const;
export type ReplicationMode = (typeof REPLICATION_MODES)[number];

/** The broker settings replication reads (BrokerConfig has them; config.ts imports this module's defaults). */
export interface ReplicationSettings {
  readonly clusterName: string;
  readonly brokerName: string;
  readonly brokerId: number;
  readonly segmentBytes: number;
  readonly replicationMode: ReplicationMode;
  readonly replicationTimeoutMs: number;
  readonly metadataSyncIntervalMs: number;
}

/** What the services see of replication (ServiceContext.replication; startBrokerReplication builds it). */
export interface ReplicationView {
  /** Master: the worst connected slave; slave: its own distance to the master. 0/0 when unknown. */
  lag(): { bytes: number; ms: number };
  /**
   * Set on a master in sync replication mode: a send waits until a slave has flushed everything
   * below `physicalOffsetEnd` (OK), or answers SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE. Never rejects.
   */
  readonly sync: SyncReplication | undefined;
  /** A topic or group config changed (master: slaves copy configs again; slave: nothing). */
  configsChanged(): void;
}

export interface SyncReplication {
  waitForReplication(physicalOffsetEnd: number, timeoutMs: number): Promise<ReplicationWaitCode>;
  /** The broker's replicationTimeoutMs setting. */
  readonly timeoutMs: number;
}

export interface BrokerReplicationOptions {
  config: ReplicationSettings;
  store: MessageStore;
  topics: TopicManager;
  log: Logger;
  clock: () => number;
}

/** The replication part of the broker's /readyz JSON (docs/replication.md "Lag"). */
interface ReplicationStatus {
  replicationLagBytes: number;
  replicationLagMs: number;
  /** Slave: the code that ended its last stream while it is not replicating (e.g. HANDSHAKE_MISMATCH); else null. */
  replicationError: string | null;
  replication: Record<string, unknown>;
}

export interface BrokerReplication extends ReplicationView, ReplicationGauges {
  readonly role: 'master' | 'slave';
  /** Master: `server.addService(ReplicationService, handlers)`; undefined on a slave. */
  readonly handlers: ReplicationHandlers | undefined;
  /** A nameserver named the group's master: a slave replicates from there; a master ignores it. */
  masterAddressAnswered(address: string): void;
  /**
   * A slave that no nameserver has named a master to yet: registration asks again at its retry
   * interval (1 s) instead of the heartbeat interval, so a slave started next to its master
   * replicates within seconds (until then every sync send answers SLAVE_NOT_AVAILABLE).
   */
  awaitingMasterAddress(): boolean;
  status(): ReplicationStatus;
  /** Master: ends the streams and answers waiting sends; slave: stops copying. Before store.close(). */
  close(): Promise<void>;
}

export function startBrokerReplication(options: BrokerReplicationOptions): BrokerReplication {
  return options.config.brokerId === 0 ? masterReplication(options) : slaveReplication(options);
}

function masterReplication(options: BrokerReplicationOptions): BrokerReplication {
  const { config } = options;
  // The version of topic and group configs that slaves compare before copying them (a new start
  // gets a new timestamp, so slaves compare everything once). Bumped after every persisted change.
  let configVersion: conveyor.IDataVersion = { timestampMs: options.clock(), counter: 0 };
  const master: ReplicationMaster = createReplicationMaster({
    store: options.store,
    clusterName: config.clusterName,
    brokerName: config.brokerName,
    segmentBytes: config.segmentBytes,
    log: options.log,
    clock: options.clock,
    dataVersion: () => configVersion,
  });
  const lag = (): MasterLag => master.lag();
  return {
    role: 'master',
    handlers: master.handlers,
    sync: config.replicationMode === 'sync'
      ? { waitForReplication: (end, timeoutMs) => master.waitForReplication(end, timeoutMs), timeoutMs: config.replicationTimeoutMs }
      : undefined,
    lag: () => {
      const { bytes, ms } = lag();
      return { bytes, ms };
    },
    connectedSlaves: () => master.connectedSlaveCount,
    masterConnected: () => 0,
    waitersRejected: () => master.waitersRejected,
    masterAddressAnswered: () => undefined,
    awaitingMasterAddress: () => false,
    configsChanged: () => {
      configVersion = { timestampMs: options.clock(), counter: Number(configVersion.counter ?? 0) + 1 };
    },
    status: () => {
      const { bytes, ms, slaves } = lag();
      return {
        replicationLagBytes: bytes,
        replicationLagMs: ms,
        replicationError: null,
        replication: { role: 'master', mode: config.replicationMode, connectedSlaves: slaves.length, slaves, waitersRejected: master.waitersRejected },
      };
    },
    close: () => master.close(),
  };
}

function slaveReplication(options: BrokerReplicationOptions): BrokerReplication {
  const { config, store, topics } = options;
  const log = options.log;
  let slave: ReplicationSlaveHandle | undefined;
  const handle = startReplicationSlave({
    store,
    masterAddress: undefined,
    clusterName: config.clusterName,
    brokerName: config.brokerName,
    brokerId: config.brokerId,
    segmentBytes: config.segmentBytes,
    metadataSyncIntervalMs: config.metadataSyncIntervalMs,
    // Caught up: the master's records of the topic, which all precede the deletion, are here already.
    metadataTarget: slaveMetadataTarget(store, topics, () => slave !== undefined && slave.connected && slave.lag().bytes === 0, log.child({ component: 'metadata-copy' })),
    log,
    clock: options.clock,
    ...slaveWindow(config.replicationMode),
  });
  slave = handle;
  return {
    role: 'slave',
    handlers: undefined,
    sync: undefined,
    lag: () => handle.lag(),
    connectedSlaves: () => 0,
    masterConnected: () => (handle.connected ? 1 : 0),
    waitersRejected: () => 0,
    masterAddressAnswered: (address) => handle.setMasterAddress(address),
    awaitingMasterAddress: () => handle.masterAddress === undefined,
    configsChanged: () => undefined,
    status: () => {
      const status = handle.status();
      return {
        replicationLagBytes: status.bytes,
        replicationLagMs: status.ms,
        replicationError: status.connected ? null : (status.lastError?.code ?? null),
        replication: { role: 'slave', ...status, masterAddress: status.masterAddress ?? null, lastError: status.lastError ?? null },
      };
    },
    close: () => handle.close(),
  };
}

/**
 * The HTTP/2 receive window a slave grants its master: REPLICATION_FLOW_CONTROL_WINDOW_BYTES under
 * sync replication (every send waits for the chunk's transit), grpc-js's default under async
 * (docs/replication.md, "A sync produce round, step by step").
 */
export function slaveWindow(mode: ReplicationMode): { flowControlWindowBytes?: number } {
  return mode === 'sync' ? { flowControlWindowBytes: REPLICATION_FLOW_CONTROL_WINDOW_BYTES } : {};
}

/**
 * Where a slave's metadata copy writes: topic configs through the topic cache (routes, pulls and
 * registration see them at once), the rest to the store's metadata. A topic the master no longer
 * has is deleted with its data (consume queues, offsets), as DeleteTopic does on the master, but
 * only while `deletionSafe()`: the master has accepted this slave's replication stream (a master
 * that lost its data refuses it, and must not empty its slave) and the slave holds everything the
 * master last announced (so no record of the deleted topic arrives after the deletion and fills a
 * queue again). Until then the copy stops with SERVICE_UNAVAILABLE and is retried on the next
 * interval.
 */
export function slaveMetadataTarget(store: MessageStore, topics: TopicManager, deletionSafe: () => boolean, log: Logger): MetadataTarget {
  const through = metadataTargetThrough(store.meta, topics);
  return {
    ...through,
    deleteTopic: async (topic) => {
      if (!deletionSafe()) {
        throw new ConveyorError(
          ErrorCode.SERVICE_UNAVAILABLE,
          `the master no longer has topic '${topic}'; the deletion waits until this slave replicates from the master and has caught up`,
          { topic },
        );
      }
      // Data first, the config last: once the topic is gone from the slave's configs (and routes),
      // its queues are gone too; an interruption in between is retried by the next copy.
      await store.deleteTopic(topic);
      await store.meta.deleteOffsetsOfTopic(topic);
      await topics.delete(topic);
      log.info({ topic }, 'topic deleted as on the master');
    },
  };
}
