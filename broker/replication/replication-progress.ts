// Replication progress on a master (pure; injected clock): which slaves are connected, what each
// has durably written, which of them are in sync, how far behind they are, and the waiters of
// sync replication. The gRPC shell (ha-master.ts) feeds it events and arms one timer for
// nextDeadlineMs(); nothing here does I/O or reads the wall clock.
import { conveyor } from '../../proto/index.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { OffsetTimeline } from './offset-timeline.js';
import { SyncWaiters } from './sync-waiters.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * A slave further behind the master's max than this is out of sync: a sync send does not wait on
 * it (it answers SLAVE_NOT_AVAILABLE at once) because it could not confirm within a send timeout.
 * RocketMQ's haSlaveFallbehindMax is 256 MiB; a smaller bound keeps sync-send latency honest.
 */
export const IN_SYNC_LAG_BYTES_MAX = 64 * MiB;
/**
 * A slave that has not reported for this long is out of sync. Slaves report after every flush and
 * at least every SLAVE_REPORT_INTERVAL_MS (ha-slave.ts, 1 s), so 3 s is three missed reports.
 */
export const IN_SYNC_REPORT_AGE_MS_MAX = 3_000;
/**
 * Sends waiting for a slave at once. Each holds a promise and its send's response; past this a
 * sync send answers SLAVE_TIMEOUT at once (stored on the master, not confirmed) instead of
 * queueing without bound behind a slow slave.
 */
export const SYNC_WAITERS_MAX = 10_000;
/**
 * How long a sync send waits for a slave by default: half the client's 3 s send deadline, so that
 * SLAVE_TIMEOUT reaches the client as an answer instead of the call timing out (the broker passes
 * min(this, the call's remaining deadline minus a margin)).
 */
export const SYNC_REPLICATION_TIMEOUT_MS_DEFAULT = 1_500;
/** Slaves one master serves at once: each stream reads the commit log on its own. */
export const SLAVES_MAX = 8;

export type ReplicationWaitCode =
  | conveyor.ErrorCode.OK
  | conveyor.ErrorCode.SLAVE_TIMEOUT
  | conveyor.ErrorCode.SLAVE_NOT_AVAILABLE;

/**
 * Rare replication events, for the shell to log at info: a slave's in-sync state changed (checked
 * whenever it reports and whenever a sync send or a status reads it), and the start and end of a
 * run of sync sends answered SLAVE_NOT_AVAILABLE at once (no in-sync slave).
 */
export type ReplicationEvent =
  | { kind: 'in-sync'; brokerId: number; lagBytes: number; lastReportAgeMs: number }
  | { kind: 'out-of-sync'; brokerId: number; lagBytes: number; lastReportAgeMs: number; reason: 'lag' | 'report-age' }
  | { kind: 'not-available-started'; connectedSlaves: number }
  | { kind: 'not-available-ended'; answered: number };

interface ReplicationProgressOptions {
  clock: () => number;
  onEvent?: (event: ReplicationEvent) => void;
  inSyncLagBytesMax?: number;
  inSyncReportAgeMsMax?: number;
  waitersMax?: number;
  slavesMax?: number;
}

export interface SlaveLag {
  brokerId: number;
  address: string;
  /** Everything below is written and flushed on the slave, by its last report. */
  ackedPhysicalOffset: number;
  lagBytes: number;
  lagMs: number;
  inSync: boolean;
  lastReportAgeMs: number;
}

/** Master view: the worst connected slave (0/0 when no slave is connected; see `slaves`). */
export interface MasterLag {
  bytes: number;
  ms: number;
  slaves: SlaveLag[];
}

interface SlaveState {
  brokerId: number;
  address: string;
  ackedPhysicalOffset: number;
  lastReportMs: number;
  /** Last in-sync state seen (for ReplicationEvent transitions). */
  inSync: boolean;
}

export class ReplicationProgress {
  private readonly clock: () => number;
  private readonly inSyncLagBytesMax: number;
  private readonly inSyncReportAgeMsMax: number;
  private readonly slavesMax: number;
  private readonly slaves = new Map<number, SlaveState>();
  private readonly waiters: SyncWaiters<ReplicationWaitCode>;
  private readonly timeline = new OffsetTimeline();
  private masterMax = 0;
  private readonly onEvent: (event: ReplicationEvent) => void;
  /** Sync sends answered SLAVE_NOT_AVAILABLE at once since the last one that could wait (0: not in such a run). */
  private notAvailableRun = 0;
  /** Sync sends answered at once with SLAVE_TIMEOUT because the waiter table was full. */
  waitersRejected = 0;

  constructor(options: ReplicationProgressOptions) {
    this.clock = options.clock;
    this.inSyncLagBytesMax = options.inSyncLagBytesMax ?? IN_SYNC_LAG_BYTES_MAX;
    this.inSyncReportAgeMsMax = options.inSyncReportAgeMsMax ?? IN_SYNC_REPORT_AGE_MS_MAX;
    this.slavesMax = options.slavesMax ?? SLAVES_MAX;
    this.waiters = new SyncWaiters(options.waitersMax ?? SYNC_WAITERS_MAX);
    this.onEvent = options.onEvent ?? (() => undefined);
  }

  get masterMaxPhysicalOffset(): number {
    return this.masterMax;
  }

  get waiterCount(): number {
    return this.waiters.size;
  }

  get connectedSlaveCount(): number {
    return this.slaves.size;
  }

  /** The master's commit log now ends at `maxPhysicalOffset` (one past its last byte). */
  masterAdvanced(maxPhysicalOffset: number): void {
    if (maxPhysicalOffset <= this.masterMax) return;
    this.masterMax = maxPhysicalOffset;
    this.timeline.record(maxPhysicalOffset, this.clock());
  }

  /**
   * A slave passed the handshake and reported `durablePhysicalOffset`. A second stream from the
   * same brokerId replaces the first (the shell closes the old one). Throws SERVICE_UNAVAILABLE
   * past SLAVES_MAX.
   */
  slaveConnected(brokerId: number, address: string, durablePhysicalOffset: number): void {
    if (!this.slaves.has(brokerId) && this.slaves.size >= this.slavesMax) {
      throw new ConveyorError(
        ErrorCode.SERVICE_UNAVAILABLE,
        `this master already serves ${this.slaves.size} slaves, the most it replicates to at once`,
        { slavesMax: this.slavesMax, brokerId },
      );
    }
    const slave: SlaveState = { brokerId, address, ackedPhysicalOffset: durablePhysicalOffset, lastReportMs: this.clock(), inSync: false };
    this.slaves.set(brokerId, slave);
    this.slaveInSync(slave, slave.lastReportMs);
    this.waiters.settleUpTo(durablePhysicalOffset, ErrorCode.OK);
  }

  /**
   * A slave's report: everything below `durablePhysicalOffset` is flushed on it. Settles the
   * waiters it covers. Throws INVALID_ARGUMENT for an offset that goes backwards or past what the
   * master holds (the shell ends that stream).
   */
  slaveReported(brokerId: number, durablePhysicalOffset: number): void {
    const slave = this.slaves.get(brokerId);
    if (slave === undefined) return;
    if (durablePhysicalOffset < slave.ackedPhysicalOffset || durablePhysicalOffset > this.masterMax) {
      throw new ConveyorError(
        ErrorCode.INVALID_ARGUMENT,
        `slave ${brokerId} reported durable offset ${durablePhysicalOffset}, outside [${slave.ackedPhysicalOffset}, ${this.masterMax}] (its previous report and the master's max)`,
        { brokerId, durablePhysicalOffset, previous: slave.ackedPhysicalOffset, masterMax: this.masterMax },
      );
    }
    slave.ackedPhysicalOffset = durablePhysicalOffset;
    slave.lastReportMs = this.clock();
    this.slaveInSync(slave, slave.lastReportMs);
    this.waiters.settleUpTo(durablePhysicalOffset, ErrorCode.OK);
  }

  /** A slave's stream ended. With no slave left, every waiter answers SLAVE_NOT_AVAILABLE now. */
  slaveDisconnected(brokerId: number): void {
    this.slaves.delete(brokerId);
    if (this.slaves.size === 0) this.waiters.settleAll(ErrorCode.SLAVE_NOT_AVAILABLE);
  }

  isInSync(brokerId: number): boolean {
    const slave = this.slaves.get(brokerId);
    return slave !== undefined && this.slaveInSync(slave, this.clock());
  }

  /**
   * Sync replication: resolves OK once a connected slave has durably written everything below
   * `physicalOffsetEnd`; SLAVE_NOT_AVAILABLE at once when no slave is in sync (or when the last
   * slave disconnects while waiting); SLAVE_TIMEOUT when `timeoutMs` passes first, or at once
   * when SYNC_WAITERS_MAX sends already wait. Never rejects.
   */
  waitFor(physicalOffsetEnd: number, timeoutMs: number): Promise<ReplicationWaitCode> {
    const now = this.clock();
    let anyInSync = false;
    for (const slave of this.slaves.values()) {
      if (slave.ackedPhysicalOffset >= physicalOffsetEnd) return Promise.resolve(ErrorCode.OK);
      if (this.slaveInSync(slave, now)) anyInSync = true;
    }
    if (!anyInSync) {
      if (this.notAvailableRun === 0) this.onEvent({ kind: 'not-available-started', connectedSlaves: this.slaves.size });
      this.notAvailableRun += 1;
      return Promise.resolve(ErrorCode.SLAVE_NOT_AVAILABLE);
    }
    if (this.notAvailableRun > 0) {
      this.onEvent({ kind: 'not-available-ended', answered: this.notAvailableRun });
      this.notAvailableRun = 0;
    }
    if (timeoutMs <= 0) return Promise.resolve(ErrorCode.SLAVE_TIMEOUT);
    if (this.waiters.full) {
      this.waitersRejected += 1;
      return Promise.resolve(ErrorCode.SLAVE_TIMEOUT);
    }
    return this.waiters.add(physicalOffsetEnd, now + timeoutMs);
  }

  /** Answers SLAVE_TIMEOUT to every waiter whose deadline has passed; the shell calls it on its timer. */
  expire(): number {
    return this.waiters.expire(this.clock(), ErrorCode.SLAVE_TIMEOUT);
  }

  /** When the shell's timer should next call expire(). */
  nextDeadlineMs(): number | undefined {
    return this.waiters.nextDeadlineMs();
  }

  lag(): MasterLag {
    const now = this.clock();
    const slaves: SlaveLag[] = [];
    for (const slave of this.slaves.values()) {
      slaves.push({
        brokerId: slave.brokerId,
        address: slave.address,
        ackedPhysicalOffset: slave.ackedPhysicalOffset,
        lagBytes: Math.max(0, this.masterMax - slave.ackedPhysicalOffset),
        lagMs: this.timeline.lagMs(slave.ackedPhysicalOffset, now),
        inSync: this.slaveInSync(slave, now),
        lastReportAgeMs: Math.max(0, now - slave.lastReportMs),
      });
    }
    slaves.sort((a, b) => a.brokerId - b.brokerId);
    return {
      bytes: slaves.reduce((worst, s) => Math.max(worst, s.lagBytes), 0),
      ms: slaves.reduce((worst, s) => Math.max(worst, s.lagMs), 0),
      slaves,
    };
  }

  /** Stops: every waiter answers SLAVE_NOT_AVAILABLE (the master is going away). */
  close(): void {
    this.waiters.settleAll(ErrorCode.SLAVE_NOT_AVAILABLE);
    this.slaves.clear();
  }

  /** Whether the slave is in sync now; reports a change of state through onEvent. */
  private slaveInSync(slave: SlaveState, now: number): boolean {
    const lagBytes = Math.max(0, this.masterMax - slave.ackedPhysicalOffset);
    const lastReportAgeMs = Math.max(0, now - slave.lastReportMs);
    const lagOk = lagBytes <= this.inSyncLagBytesMax;
    const inSync = lagOk && lastReportAgeMs <= this.inSyncReportAgeMsMax;
    if (inSync !== slave.inSync) {
      slave.inSync = inSync;
      this.onEvent(inSync
        ? { kind: 'in-sync', brokerId: slave.brokerId, lagBytes, lastReportAgeMs }
        : { kind: 'out-of-sync', brokerId: slave.brokerId, lagBytes, lastReportAgeMs, reason: lagOk ? 'report-age' : 'lag' });
    }
    return inSync;
  }
}
