// The single commit-log writer: a thin shell doing the writev and fdatasync calls that the
// group-commit core (group-commit.ts) plans. Writes and fsyncs overlap: while one fdatasync runs
// in the libuv pool, the next appends are written; each append is completed once, in log order.
import type { Logger } from 'pino';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { WriteChunk } from './batch-encoder.js';
import type { CommitLog } from './commit-log.js';
import { GroupCommit, type CommitTicket, type PlannedWrite } from './group-commit.js';
import { FLUSH_LATENCY_SAMPLES, WRITE_BYTES_MAX, WRITE_IOVECS_MAX } from './store-limits.js';
import type { FlushMode } from './types.js';

/**
 * Planned writes up to this size are written on the event loop (CommitLog.writeChunksNow) instead
 * of through libuv's pool. Such a write lands in the page cache faster than the pool hand-off
 * costs in CPU (futex wake-ups of a pool thread, an eventfd, a promise), and at low rates every
 * append is its own write (one per message on master and slave). 256 KiB covers a batch of 128
 * 1-KiB messages (~140 KB) and the slave's chunks of such batches, which a 64 KiB line sent to
 * the pool. Larger writes stay on the pool, so a write the kernel throttles for dirty pages blocks
 * a pool thread, not the loop. Numbers: docs/performance.md "Numbers that shaped the code".
 */
export const WRITE_NOW_BYTES_MAX = 256 * 1024;

export interface WriterTicket extends CommitTicket {
  /** Called once: without an error when the append is written (async) or covered by an fsync (sync). */
  done(error?: Error): void;
}

interface WriterStats {
  writeCount: number;
  /** Of writeCount, the writes done on the event loop (WRITE_NOW_BYTES_MAX). */
  writesOnLoop: number;
  bytesWritten: number;
  fsyncCount: number;
  fsyncRecords: number;
  flushLatencyMs: { last: number; mean: number; p50: number; p99: number; max: number };
}

export class LogWriter {
  private readonly core: GroupCommit<WriterTicket>;
  private flushWaiters: { target: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private idleWaiters: (() => void)[] = [];
  private failure: ConveyorError | undefined;
  private pumpScheduled = false;
  /** Fsynced appends whose completion waits for the next check phase (startSync). */
  private completing = 0;
  private writeCount = 0;
  private writesOnLoop = 0;
  private bytesWritten = 0;
  private fsyncCount = 0;
  private fsyncRecords = 0;
  private readonly latencies = new Float64Array(FLUSH_LATENCY_SAMPLES);
  private latencyCount = 0;
  private latencyTotalMs = 0;
  private latencyMaxMs = 0;
  private lastLatencyMs = 0;

  constructor(
    private readonly commitLog: CommitLog,
    readonly mode: FlushMode,
    startPhysicalOffset: number,
    private readonly onFlushed: (flushedPhysicalOffset: number) => void,
    private readonly log: Logger,
  ) {
    this.core = new GroupCommit(mode, startPhysicalOffset, { iovecsMax: WRITE_IOVECS_MAX, bytesMax: WRITE_BYTES_MAX });
  }

  get writtenPhysicalOffset(): number {
    return this.core.writtenPhysicalOffset;
  }
  get flushedPhysicalOffset(): number {
    return this.core.flushedPhysicalOffset;
  }
  get queuedBytes(): number {
    return this.core.queuedBytes;
  }
  get failed(): ConveyorError | undefined {
    return this.failure;
  }

  restartEmptyAt(physicalOffset: number): void {
    this.core.restartEmptyAt(physicalOffset);
  }

  enqueue(chunks: WriteChunk[], ticket: WriterTicket): void {
    if (this.failure !== undefined) throw this.failure;
    this.core.enqueue(chunks, ticket);
    this.schedulePump();
  }

  /**
   * Pumps once the current microtasks have run: appends made in the same turn (many appenders
   * resumed by one fsync, a burst of sends) go out in one write and share one fsync.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(this.scheduledPump);
  }

  private readonly scheduledPump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  /** Resolves once everything written so far (and everything queued now) is fsynced. */
  flush(targetPhysicalOffset: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.core.flushedPhysicalOffset >= targetPhysicalOffset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ target: targetPhysicalOffset, resolve, reject });
      this.schedulePump();
    });
  }

  /** Resolves when no write or fsync runs and nothing is queued. */
  whenIdle(): Promise<void> {
    if ((this.core.idle && this.completing === 0) || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): WriterStats {
    const n = Math.min(this.latencyCount, FLUSH_LATENCY_SAMPLES);
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]!);
    return {
      writeCount: this.writeCount,
      writesOnLoop: this.writesOnLoop,
      bytesWritten: this.bytesWritten,
      fsyncCount: this.fsyncCount,
      fsyncRecords: this.fsyncRecords,
      flushLatencyMs: { last: this.lastLatencyMs, mean: this.latencyCount === 0 ? 0 : this.latencyTotalMs / this.latencyCount, p50: at(0.5), p99: at(0.99), max: this.latencyMaxMs },
    };
  }

  private pump(): void {
    if (this.failure !== undefined) return;
    // The fsync is considered first: it covers everything written so far, then the next write starts.
    if (this.flushWaiters.length > 0) this.core.requestSync();
    const target = this.core.takeSync();
    if (target !== undefined) this.startSync(target);
    const write = this.core.takeWrite();
    if (write !== undefined) this.startWrite(write);
    if (this.core.idle && this.completing === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private startWrite(write: PlannedWrite<WriterTicket>): void {
    if (write.bytes <= WRITE_NOW_BYTES_MAX) {
      let written: boolean;
      try {
        written = this.commitLog.writeChunksNow(write.chunks);
      } catch (err) {
        queueMicrotask(() => this.fail(err, write.tickets));
        return;
      }
      // Completed after the current microtasks, as a pool write would be: appenders never see
      // their append done inside their own enqueue, and pump() is not re-entered.
      if (written) {
        queueMicrotask(() => this.written(write, true));
        return;
      }
    }
    this.commitLog.writeChunks(write.chunks).then(
      () => this.written(write, false),
      (err: unknown) => this.fail(err, write.tickets),
    );
  }

  private written(write: PlannedWrite<WriterTicket>, onLoop: boolean): void {
    this.writeCount++;
    this.bytesWritten += write.bytes;
    if (onLoop) this.writesOnLoop++;
    const done = this.core.writeDone(write);
    for (const ticket of done) ticket.done();
    this.pump();
  }

  private startSync(target: number): void {
    const from = this.core.flushedPhysicalOffset;
    const startedMs = performance.now();
    const synced = target > from ? this.commitLog.datasync(from, target) : Promise.resolve();
    synced.then(
      () => {
        if (target > from) this.recordLatency(performance.now() - startedMs);
        const { tickets, records } = this.core.syncDone(target);
        this.fsyncRecords += records;
        // Readers of flushed bytes first: a master's replication stream reads and sends them, a
        // slave reports them to its master. Their gRPC writes leave in this turn's check phase
        // (Node's HTTP/2 flushes in a native immediate), so the appends' completion work — a
        // master's sends going on to their replication wait, a slave dispatching every record
        // into its consume queues — runs after that, in a JS immediate of the same phase,
        // instead of holding those bytes back (docs/replication.md, "A sync produce round, step
        // by step").
        if (target > from) this.onFlushed(target);
        this.settleFlushWaiters();
        if (tickets.length === 0) {
          this.schedulePump();
          return;
        }
        this.completing++;
        setImmediate(() => {
          this.completing--;
          for (const ticket of tickets) ticket.done();
          // After the appenders just completed had their turn to append again.
          this.schedulePump();
        });
      },
      (err: unknown) => this.fail(err, []),
    );
  }

  private recordLatency(ms: number): void {
    this.fsyncCount++;
    this.latencies[this.latencyCount % FLUSH_LATENCY_SAMPLES] = ms;
    this.latencyCount++;
    this.latencyTotalMs += ms;
    this.latencyMaxMs = Math.max(this.latencyMaxMs, ms);
    this.lastLatencyMs = ms;
  }

  private settleFlushWaiters(): void {
    const flushed = this.core.flushedPhysicalOffset;
    const remaining = [];
    for (const waiter of this.flushWaiters) {
      if (waiter.target <= flushed) waiter.resolve();
      else remaining.push(waiter);
    }
    this.flushWaiters = remaining;
  }

  private fail(err: unknown, inFlight: WriterTicket[]): void {
    const enospc = (err as NodeJS.ErrnoException).code === 'ENOSPC';
    this.failure = new ConveyorError(
      enospc ? ErrorCode.DISK_FULL : ErrorCode.INTERNAL,
      `commit log ${enospc ? 'disk is full' : 'write failed'}: ${(err as Error).message}; the store takes no more appends until it is reopened (recovery)`,
      {},
      { cause: err },
    );
    this.log.error({ err }, 'commit log write failed');
    for (const ticket of [...inFlight, ...this.core.failAll()]) ticket.done(this.failure);
    for (const waiter of this.flushWaiters) waiter.reject(this.failure);
    this.flushWaiters = [];
    for (const resolve of this.idleWaiters) resolve();
    this.idleWaiters = [];
  }
}
