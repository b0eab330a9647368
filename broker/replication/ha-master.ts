// Master side of replication: the Replication service. Each slave keeps one Replicate stream; its
// first report is the handshake plus the offset it has durably written, and the master streams
// raw commit-log bytes from there in chunks, then keeps tailing, woken by the store's dispatch and
// flush events (a keepalive goes out when nothing was sent for a while). Later reports carry the
// slave's durable offset and feed ReplicationProgress, which answers sync-replication waiters.
// Protocol, step by step: docs/replication.md.
import type * as grpc from '@grpc/grpc-js';
import type { conveyor, ReplicationHandlers } from '../../proto/index.js';
import { ConveyorError, ErrorCode, isConveyorError } from '../../common/errors.js';
import { toServiceError, unaryHandler } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';
import { checkSlaveHandshake, type ReplicationIdentity } from './handshake.js';
import { readMetadataSnapshot } from './metadata-sync.js';
import type { ReplicationProgress } from './replication-progress.js';
import type { MasterStore } from './store-port.js';
import { WakeSignal } from './wake-signal.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Bytes in one ReplicationData message: large enough that catch-up is not per-message bound,
 * small enough that a slave's append and the gRPC buffers (up to 16 messages queued per stream
 * before write() pushes back) stay modest.
 */
export const REPLICATION_CHUNK_BYTES_MAX = 1 * MiB;
/**
 * An idle stream gets an empty message this often: it carries the master's max offset and time
 * (the slave's lag) and proves the link alive (a slave reconnects after MASTER_SILENCE_MS_MAX).
 */
export const REPLICATION_KEEPALIVE_INTERVAL_MS = 1_000;
/**
 * No report from a slave for this long (slaves report every second): its stream is a leftover of a
 * cut link or a frozen process, and is ended so that it stops holding a slot and buffers.
 */
export const SLAVE_SILENCE_MS_MAX = 10_000;

interface MasterStreamOptions {
  store: MasterStore;
  identity: ReplicationIdentity;
  progress: ReplicationProgress;
  clock: () => number;
  log: Logger;
  chunkBytesMax: number;
  keepaliveIntervalMs: number;
  slaveSilenceMsMax: number;
  dataVersion: (() => conveyor.IDataVersion) | undefined;
}

type ReplicateCall = grpc.ServerDuplexStream<conveyor.SlaveReport, conveyor.IReplicationData>;

/** One slave's stream. */
class SlaveStream {
  private closed = false;
  private brokerId = 0;
  private position = 0;
  /** write() pushed back; cleared by 'drain'. */
  private blocked = false;
  private lastReportMs = 0;
  /** Store appends and flushes, 'drain' and close all wake the pump through this. */
  readonly wake = new WakeSignal();
  /** Resolves when the stream ends, however it ends. */
  readonly done: Promise<void>;
  private finish: () => void = () => undefined;

  constructor(
    private readonly call: ReplicateCall,
    private readonly master: ReplicationMasterStreams,
    private readonly options: MasterStreamOptions,
  ) {
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    call.on('drain', () => {
      this.blocked = false;
      this.wake.notify();
    });
  }

  get id(): number {
    return this.brokerId;
  }

  /** First report: handshake and start offset. Throws the refusal (the caller ends the stream). */
  open(report: conveyor.SlaveReport): void {
    const { store, identity, progress } = this.options;
    // Named in the log even when the handshake is refused (register/unregister check identity, not id).
    const claimedId = Number(report.handshake?.brokerId ?? 0);
    this.brokerId = Number.isSafeInteger(claimedId) ? claimedId : 0;
    const brokerId = checkSlaveHandshake(identity, report.handshake);
    const requested = Number(report.durablePhysicalOffset);
    if (!Number.isSafeInteger(requested) || requested < 0) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `slave ${brokerId} reported durable offset ${requested}; it must be a non-negative integer`, { brokerId, durablePhysicalOffset: requested });
    }
    const min = store.minPhysicalOffset;
    const max = store.maxPhysicalOffset;
    if (requested > max) {
      throw new ConveyorError(
        ErrorCode.HANDSHAKE_MISMATCH,
        `maxPhysicalOffset differs: slave ${brokerId} holds the commit log up to ${requested} but this master's log ends at ${max}. The master lost bytes the slave has (e.g. a machine crash under async flush); a slave never truncates, so empty the slave's data directory to copy the master again, or make the slave the master`,
        { setting: 'maxPhysicalOffset', masterValue: max, slaveValue: requested, brokerId },
      );
    }
    let start = requested;
    if (requested < min) {
      if (requested !== 0) {
        throw new ConveyorError(
          ErrorCode.REPLICATION_DATA_GONE,
          `slave ${brokerId} needs commit-log bytes from ${requested} but this master's log now starts at ${min} (retention deleted them); empty the slave's data directory so that it copies the master from ${min}`,
          { brokerId, slavePhysicalOffset: requested, minPhysicalOffset: min, maxPhysicalOffset: max },
        );
      }
      start = min; // an empty slave starts at the master's first segment
    }
    this.brokerId = brokerId;
    this.position = start;
    this.lastReportMs = this.options.clock();
    progress.masterAdvanced(max);
    this.master.register(this);
    progress.slaveConnected(brokerId, this.call.getPeer(), requested);
    this.options.log.info({ brokerId, peer: this.call.getPeer(), slavePhysicalOffset: requested, startPhysicalOffset: start, masterMaxPhysicalOffset: max }, 'slave connected');
  }

  /** A later report: the slave's durable offset. */
  report(report: conveyor.SlaveReport): void {
    if (this.closed) return;
    this.lastReportMs = this.options.clock();
    this.options.progress.slaveReported(this.brokerId, Number(report.durablePhysicalOffset));
  }

  /** Streams until the stream closes. Errors end the stream with their code. */
  async pump(): Promise<void> {
    const { store, progress, chunkBytesMax, keepaliveIntervalMs } = this.options;
    let lastSentMs = 0;
    try {
      while (!this.closed) {
        const since = this.wake.current;
        this.checkSilence();
        if (this.blocked) {
          await this.wake.wait(since, keepaliveIntervalMs);
          continue;
        }
        const max = store.maxPhysicalOffset;
        progress.masterAdvanced(max);
        const bytes = this.position < max ? await store.readCommitLog(this.position, chunkBytesMax) : Buffer.alloc(0);
        if (this.closed) break;
        if (bytes.length > 0 || this.options.clock() - lastSentMs >= keepaliveIntervalMs) {
          const writable = this.call.write({ physicalOffset: this.position, data: bytes, masterMaxPhysicalOffset: max, masterTimeMs: this.options.clock() });
          this.position += bytes.length;
          lastSentMs = this.options.clock();
          if (!writable) this.blocked = true;
          if (bytes.length > 0) continue;
        }
        // Retention deleted bytes this slave has not received yet: the read throws REPLICATION_DATA_GONE.
        if (this.position < store.minPhysicalOffset) await store.readCommitLog(this.position, 1);
        await this.wake.wait(since, keepaliveIntervalMs);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private checkSilence(): void {
    const silentMs = this.options.clock() - this.lastReportMs;
    if (silentMs <= this.options.slaveSilenceMsMax) return;
    throw new ConveyorError(ErrorCode.TIMEOUT, `slave ${this.brokerId} sent no report for ${silentMs} ms; ending its stream`, { brokerId: this.brokerId, silentMs });
  }

  /** Ends the stream with an error status (which the slave reads as a ConveyorError). */
  fail(err: unknown): void {
    if (this.closed) return;
    const error = isConveyorError(err) ? err : new ConveyorError(ErrorCode.INTERNAL, `replication stream failed: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
    const fields = { ...error.fields, brokerId: this.brokerId, peer: this.call.getPeer(), code: error.codeName, err: error.message };
    // The master's own clean shutdown ends every stream this way: expected, not a warning.
    if (error.code === ErrorCode.SHUTTING_DOWN) this.options.log.info(fields, 'replication stream ended with an error');
    else this.options.log.warn(fields, 'replication stream ended with an error');
    this.closed = true;
    this.call.emit('error', toServiceError(error));
    this.cleanUp();
  }

  /** Ends the stream normally (the slave closed its side, or it was cancelled). */
  end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.options.log.info({ brokerId: this.brokerId, peer: this.call.getPeer(), reason }, 'slave disconnected');
    if (!this.call.cancelled) this.call.end();
    this.cleanUp();
  }

  private cleanUp(): void {
    this.master.unregister(this);
    this.wake.notify();
    this.finish();
  }
}

/** The live streams of one master, by slave broker id. */
export class ReplicationMasterStreams {
  private readonly streams = new Map<number, SlaveStream>();
  private readonly unsubscribe: Array<() => void> = [];
  private closing = false;

  constructor(private readonly options: MasterStreamOptions) {
    const wake = (): void => {
      for (const stream of this.streams.values()) stream.wake.notify();
    };
    this.unsubscribe.push(options.store.onDispatch(wake), options.store.onFlushed(wake));
  }

  handlers(): ReplicationHandlers {
    return {
      replicate: (call: ReplicateCall) => this.accept(call),
      getMetadata: unaryHandler(() => readMetadataSnapshot(this.options.store.meta, this.options.dataVersion?.())),
    };
  }

  register(stream: SlaveStream): void {
    this.streams.get(stream.id)?.fail(new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `replaced by a newer stream from slave ${stream.id}`, { brokerId: stream.id }));
    this.streams.set(stream.id, stream);
  }

  unregister(stream: SlaveStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.options.progress.slaveDisconnected(stream.id);
  }

  private accept(call: ReplicateCall): void {
    if (this.closing) {
      call.emit('error', toServiceError(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'this master is shutting down', {})));
      return;
    }
    const stream = new SlaveStream(call, this, this.options);
    let opened = false;
    call.on('data', (report: conveyor.SlaveReport) => {
      try {
        if (opened) {
          stream.report(report);
          return;
        }
        opened = true;
        stream.open(report);
        void stream.pump();
      } catch (err) {
        stream.fail(err);
      }
    });
    call.on('end', () => stream.end('slave closed the stream'));
    call.on('cancelled', () => stream.end('stream cancelled'));
  }

  /** Ends every stream with SHUTTING_DOWN and stops listening to the store. */
  async close(): Promise<void> {
    this.closing = true;
    for (const off of this.unsubscribe) off();
    const streams = [...this.streams.values()];
    for (const stream of streams) stream.fail(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the master is shutting down', {}));
    await Promise.all(streams.map((s) => s.done));
  }
}
