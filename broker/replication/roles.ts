// The two roles of a broker group's replication (DESIGN.md §4, docs/replication.md), each
// assembled from its parts:
//   master: createReplicationMaster(...) → handlers for ReplicationService, waitForReplication for
//           sync sends, lag for status and metrics;
//   slave:  startReplicationSlave(...) → copies the master's commit log and metadata, lag, status.
// The broker wires them in through the subsystem's facade, index.ts.
import type { conveyor, ReplicationHandlers } from '../../proto/index.js';
import { unreachable } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { RECORD_FORMAT_VERSION } from '../../common/record.js';
import { REPLICATION_CHUNK_BYTES_MAX, REPLICATION_KEEPALIVE_INTERVAL_MS, ReplicationMasterStreams, SLAVE_SILENCE_MS_MAX } from './ha-master.js';
import { ReplicationSlave, type SlaveLagView, type SlaveStatus } from './ha-slave.js';
import type { ReplicationIdentity } from './handshake.js';
import { METADATA_SYNC_INTERVAL_MS_DEFAULT, MetadataSync, type MetadataApplied, type MetadataTarget } from './metadata-sync.js';
import { ReplicationProgress, type MasterLag, type ReplicationEvent, type ReplicationWaitCode } from './replication-progress.js';
import type { MasterStore, SlaveStore } from './store-port.js';

export interface ReplicationMasterOptions {
  /** The broker's MessageStore. */
  store: MasterStore;
  clusterName: string;
  brokerName: string;
  /** Defaults to the codec's RECORD_FORMAT_VERSION. */
  recordFormatVersion?: number;
  /** The broker's segmentBytes setting (the store's segment size). */
  segmentBytes: number;
  log: Logger;
  clock?: () => number;
  /** The broker's registration data version (topics/groups); slaves skip the config copy while it is unchanged. */
  dataVersion?: () => conveyor.IDataVersion;
  /** Tests only: smaller chunks and keepalives. */
  chunkBytesMax?: number;
  keepaliveIntervalMs?: number;
  slaveSilenceMsMax?: number;
  inSyncLagBytesMax?: number;
  inSyncReportAgeMsMax?: number;
}

export interface ReplicationMaster {
  /** Register with `server.addService(ReplicationService, master.handlers)` next to BrokerService. */
  readonly handlers: ReplicationHandlers;
  /**
   * Sync replication: resolves once a slave has durably written everything below
   * `physicalOffsetEnd` (OK), or SLAVE_TIMEOUT after `timeoutMs`, or SLAVE_NOT_AVAILABLE at once
   * when no slave is in sync. Never rejects.
   */
  waitForReplication(physicalOffsetEnd: number, timeoutMs: number): Promise<ReplicationWaitCode>;
  /** The worst connected slave (bytes, ms) and each slave; 0/0 with no slave connected. */
  lag(): MasterLag;
  readonly connectedSlaveCount: number;
  /** Sync sends refused a wait because SYNC_WAITERS_MAX already waited (answered SLAVE_TIMEOUT). */
  readonly waitersRejected: number;
  /** Ends every stream (SHUTTING_DOWN) and answers waiting sends SLAVE_NOT_AVAILABLE. Before store.close(). */
  close(): Promise<void>;
}

export function createReplicationMaster(options: ReplicationMasterOptions): ReplicationMaster {
  const clock = options.clock ?? Date.now;
  const identity = identityOf(options);
  const log = options.log.child({ component: 'replication-master' });
  const progress = new ReplicationProgress({
    clock,
    onEvent: (event) => logReplicationEvent(log, event),
    ...(options.inSyncLagBytesMax !== undefined ? { inSyncLagBytesMax: options.inSyncLagBytesMax } : {}),
    ...(options.inSyncReportAgeMsMax !== undefined ? { inSyncReportAgeMsMax: options.inSyncReportAgeMsMax } : {}),
  });
  progress.masterAdvanced(options.store.maxPhysicalOffset);
  const streams = new ReplicationMasterStreams({
    store: options.store,
    identity,
    progress,
    clock,
    log,
    chunkBytesMax: options.chunkBytesMax ?? REPLICATION_CHUNK_BYTES_MAX,
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? REPLICATION_KEEPALIVE_INTERVAL_MS,
    slaveSilenceMsMax: options.slaveSilenceMsMax ?? SLAVE_SILENCE_MS_MAX,
    dataVersion: options.dataVersion,
  });
  // One timer, armed for the earliest waiter deadline (no polling).
  let expiryTimer: NodeJS.Timeout | undefined;
  let expiryAtMs = Infinity;
  const armExpiry = (): void => {
    const next = progress.nextDeadlineMs();
    if (next === undefined || next >= expiryAtMs) return;
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    expiryAtMs = next;
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined;
      expiryAtMs = Infinity;
      progress.expire();
      armExpiry();
    }, Math.max(0, next - clock()));
  };
  return {
    handlers: streams.handlers(),
    waitForReplication(physicalOffsetEnd, timeoutMs) {
      progress.masterAdvanced(options.store.maxPhysicalOffset);
      const result = progress.waitFor(physicalOffsetEnd, timeoutMs);
      armExpiry();
      return result;
    },
    lag() {
      progress.masterAdvanced(options.store.maxPhysicalOffset);
      return progress.lag();
    },
    get connectedSlaveCount() {
      return progress.connectedSlaveCount;
    },
    get waitersRejected() {
      return progress.waitersRejected;
    },
    async close() {
      await streams.close();
      progress.close();
      if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    },
  };
}

export interface ReplicationSlaveStartOptions {
  /** The broker's MessageStore. */
  store: SlaveStore;
  /** host:port of the master's gRPC server; undefined until registration tells it (then setMasterAddress). */
  masterAddress: string | undefined;
  clusterName: string;
  brokerName: string;
  brokerId: number;
  recordFormatVersion?: number;
  segmentBytes: number;
  /** Default 5 s. */
  metadataSyncIntervalMs?: number;
  /** Where copied metadata goes; default store.meta. Pass an adapter when the broker caches topics. */
  metadataTarget?: MetadataTarget;
  /** After a metadata copy that changed something. */
  onMetadataApplied?: (applied: MetadataApplied) => void;
  log: Logger;
  clock?: () => number;
  /** Tests only. */
  reportIntervalMs?: number;
  masterSilenceMsMax?: number;
  appendBytesInFlightMax?: number;
  /** HTTP/2 receive window granted to the master: REPLICATION_FLOW_CONTROL_WINDOW_BYTES under sync replication; default 64 KiB. */
  flowControlWindowBytes?: number;
}

export interface ReplicationSlaveHandle {
  lag(): SlaveLagView;
  status(): SlaveStatus;
  readonly connected: boolean;
  readonly masterMaxPhysicalOffset: number;
  /** The master replicated from; undefined until a registration answer named one. */
  readonly masterAddress: string | undefined;
  setMasterAddress(address: string | undefined): void;
  /** Copies the master's metadata now (also runs on its interval); never rejects. */
  syncMetadataNow(): Promise<void>;
  /** Stops streaming and copying; waits for an append in flight. Before store.close(). */
  close(): Promise<void>;
}

export function startReplicationSlave(options: ReplicationSlaveStartOptions): ReplicationSlaveHandle {
  const log = options.log.child({ component: 'replication-slave' });
  const slave = new ReplicationSlave({
    store: options.store,
    masterAddress: options.masterAddress,
    identity: identityOf(options),
    brokerId: options.brokerId,
    log,
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.reportIntervalMs !== undefined ? { reportIntervalMs: options.reportIntervalMs } : {}),
    ...(options.masterSilenceMsMax !== undefined ? { masterSilenceMsMax: options.masterSilenceMsMax } : {}),
    ...(options.appendBytesInFlightMax !== undefined ? { appendBytesInFlightMax: options.appendBytesInFlightMax } : {}),
    ...(options.flowControlWindowBytes !== undefined ? { flowControlWindowBytes: options.flowControlWindowBytes } : {}),
  });
  const metadata = new MetadataSync({
    client: () => (slave.masterAddress === undefined ? undefined : slave.masterClient()),
    target: options.metadataTarget ?? options.store.meta,
    intervalMs: options.metadataSyncIntervalMs ?? METADATA_SYNC_INTERVAL_MS_DEFAULT,
    log: options.log.child({ component: 'metadata-sync' }),
    ...(options.onMetadataApplied !== undefined ? { onApplied: options.onMetadataApplied } : {}),
  });
  slave.start();
  metadata.start();
  return {
    lag: () => slave.lag(),
    status: () => slave.status(),
    get connected() {
      return slave.connected;
    },
    get masterMaxPhysicalOffset() {
      return slave.masterMaxPhysicalOffset;
    },
    get masterAddress() {
      return slave.masterAddress;
    },
    setMasterAddress(address) {
      if (address === slave.masterAddress) return;
      metadata.reset();
      slave.setMasterAddress(address);
      if (address !== undefined) void metadata.syncNow();
    },
    syncMetadataNow: () => metadata.syncNow(),
    async close() {
      await metadata.close();
      await slave.close();
    },
  };
}

/** In-sync changes and runs of SLAVE_NOT_AVAILABLE answers are rare and explain sync-send statuses: info. */
function logReplicationEvent(log: Logger, event: ReplicationEvent): void {
  switch (event.kind) {
    case 'in-sync':
      log.info({ brokerId: event.brokerId, lagBytes: event.lagBytes, lastReportAgeMs: event.lastReportAgeMs }, 'slave in sync');
      return;
    case 'out-of-sync':
      log.info({ brokerId: event.brokerId, lagBytes: event.lagBytes, lastReportAgeMs: event.lastReportAgeMs, reason: event.reason }, 'slave out of sync');
      return;
    case 'not-available-started':
      log.info({ connectedSlaves: event.connectedSlaves }, 'no slave in sync: sync sends answer SLAVE_NOT_AVAILABLE');
      return;
    case 'not-available-ended':
      log.info({ answered: event.answered }, 'a slave is in sync again: sync sends wait for it');
      return;
    default:
      unreachable(event);
  }
}

function identityOf(options: { clusterName: string; brokerName: string; recordFormatVersion?: number; segmentBytes: number }): ReplicationIdentity {
  return {
    clusterName: options.clusterName,
    brokerName: options.brokerName,
    recordFormatVersion: options.recordFormatVersion ?? RECORD_FORMAT_VERSION,
    segmentBytes: options.segmentBytes,
  };
}

