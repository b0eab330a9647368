// The store facade the broker codes against: appends, reads, lookups, replication hooks, and the
// life cycle (open = recovery, timers for flush/checkpoint and retention, clean close).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { assert, ConveyorError, ErrorCode } from '../../common/errors.js';
import { validateName } from '../../common/names.js';
import { measureBatch, PADDING_HEADER_BYTES, type RecordIndexFields } from '../../common/record.js';
import { AppendTicket } from './append-ticket.js';
import { encodeBatch, type EncodedBatch } from './batch-encoder.js';
import { abortMarkerExists, CHECKPOINT_FORMAT_VERSION, createAbortMarker, readCheckpoint, removeAbortMarker, writeCheckpoint } from './checkpoint.js';
import { CommitLog } from './commit-log.js';
import { ConsumeQueues } from './consume-queues.js';
import { DiskMonitor } from './disk-usage.js';
import { FileHandleCache, isOutOfDescriptors } from './file-handle-cache.js';
import { Dispatcher } from './dispatcher.js';
import { commitLogDir, META_DIR } from './layout.js';
import { LogWriter } from './log-writer.js';
import { MessageIndex } from './message-index.js';
import { MetadataStore } from './metadata.js';
import { readQueue } from './read-path.js';
import { recoverStore, type RecoveryReport } from './recovery.js';
import { scanLog } from './recovery-scan.js';
import { ReplicaAppender, type ReplicaTarget } from './replica-appender.js';
import { refusesWrites } from './retention-policy.js';
import { DELETED_TOPIC_PREFIX, runRetention, type RetentionRun } from './retention.js';
import { StoreReader } from './store-reader.js';
import { APPEND_QUEUE_BYTES_MAX, DISK_CHECK_INTERVAL_MS, READ_BYTES_MAX, RETENTION_INTERVAL_MS } from './store-limits.js';
import { resolveStoreOptions, type ResolvedStoreOptions } from './store-options.js';
import type { AppendResult, QueueRange, ReadOptions, ReadResult, StoreMessageInput, StoreOptions, StoreStats } from './types.js';

const QUEUE_ID_MAX = 0xffff_ffff;

export class MessageStore {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly flushedListeners = new Set<(flushedPhysicalOffset: number) => void>();
  private readonly replica: ReplicaAppender;
  private readonly reader: StoreReader;
  private flushing: Promise<void> | undefined;
  private closing = false;
  private failure: ConveyorError | undefined;
  private lastStoreTimestampMs = 0;
  private recordsAppended = 0;

  private constructor(
    private readonly options: ResolvedStoreOptions,
    readonly meta: MetadataStore,
    private readonly core: ReplicaTarget,
    private readonly queues: ConsumeQueues,
    private readonly index: MessageIndex,
    private readonly disk: DiskMonitor,
    /** What recovery found at open. */
    readonly recovery: Omit<RecoveryReport, 'dispatcher'>,
  ) {
    this.replica = new ReplicaAppender(core);
    this.reader = new StoreReader(core.commitLog, queues, index, () => this.maxPhysicalOffset);
  }

  static async open(storeOptions: StoreOptions): Promise<MessageStore> {
    const options = resolveStoreOptions(storeOptions);
    const { dataDir, segmentBytes, log } = options;
    await mkdir(dataDir, { recursive: true });
    const meta = await MetadataStore.open(path.join(dataDir, META_DIR));
    let commitLog: CommitLog | undefined;
    try {
      const recordedSegmentBytes = await meta.getStoreNumber('segmentBytes');
      if (recordedSegmentBytes !== undefined && recordedSegmentBytes !== segmentBytes) {
        throw new ConveyorError(ErrorCode.CONFIG_INVALID, `segmentBytes is ${segmentBytes} but ${dataDir} was written with ${recordedSegmentBytes}`, { segmentBytes, recordedSegmentBytes });
      }
      await meta.putStoreNumber('segmentBytes', segmentBytes);
      const files = new FileHandleCache(options.openFilesMax);
      commitLog = await CommitLog.open(commitLogDir(dataDir), segmentBytes, files);
      const queues = new ConsumeQueues(dataDir, options.consumeQueueEntriesPerFile, log, files);
      const index = await MessageIndex.open(meta, segmentBytes, log);
      const deletedTopics = new Map<string, number>();
      for await (const [topic, at] of meta.iterateStore(DELETED_TOPIC_PREFIX)) deletedTopics.set(topic, at);
      const { dispatcher, ...recovery } = await recoverStore({
        commitLog,
        queues,
        index,
        checkpoint: await readCheckpoint(dataDir),
        abortMarkerFound: await abortMarkerExists(dataDir),
        log,
        makeDispatcher: (start) => {
          const made = new Dispatcher(queues, index, start, log);
          for (const [topic, at] of deletedTopics) made.deletedTopics.set(topic, at);
          return made;
        },
      });
      const end = recovery.logEndPhysicalOffset;
      let store: MessageStore | undefined;
      const writer = new LogWriter(commitLog, options.flushMode, end, (flushed) => store?.emitFlushed(flushed), log);
      const disk = new DiskMonitor(options.diskUsage);
      await disk.refresh();
      store = new MessageStore(options, meta, { commitLog, writer, dispatcher, allocatedPhysicalOffset: end }, queues, index, disk, recovery);
      await createAbortMarker(dataDir);
      await store.checkpoint();
      store.startTimers();
      return store;
    } catch (err) {
      await commitLog?.close();
      await meta.close();
      throw err;
    }
  }

  get minPhysicalOffset(): number {
    return this.core.commitLog.minPhysicalOffset;
  }
  /** End of the bytes written to the segment files. */
  get maxPhysicalOffset(): number {
    return this.core.writer.writtenPhysicalOffset;
  }
  get flushedPhysicalOffset(): number {
    return this.core.writer.flushedPhysicalOffset;
  }
  /** Slave: where the next appendCommitLogBytes must start (maxPhysicalOffset plus a buffered partial record). */
  get receivedPhysicalOffset(): number {
    return this.replica.receivedPhysicalOffset;
  }

  private checkWritable(): void {
    if (this.closing) throw new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the store is closing', {});
    const failure = this.failure ?? this.core.writer.failed;
    if (failure !== undefined) throw failure;
    if (this.index.failed !== undefined) {
      this.failure = new ConveyorError(ErrorCode.INTERNAL, 'the message index could not be written; reopen the store to recover', {}, { cause: this.index.failed });
      throw this.failure;
    }
    if (refusesWrites(this.disk.usedPercent, this.options.diskHardThresholdPercent)) {
      const usedPercent = Math.round(this.disk.usedPercent * 10) / 10;
      throw new ConveyorError(ErrorCode.DISK_FULL, `disk usage ${usedPercent}% is at or past the hard threshold of ${this.options.diskHardThresholdPercent}%; nothing was written`, {
        usedPercent,
        hardThresholdPercent: this.options.diskHardThresholdPercent,
      });
    }
    if (this.core.writer.queuedBytes > APPEND_QUEUE_BYTES_MAX) {
      throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `the store has ${this.core.writer.queuedBytes} bytes waiting to be written, over ${APPEND_QUEUE_BYTES_MAX}; retry later`, {});
    }
  }

  /**
   * One batch into one queue, contiguous queue offsets. Validates every limit first: nothing is
   * written on error. Not an async function: the common path hands back the writer's promise
   * without wrapping it (one promise per append). `measuredSizes`: what measureBatch returned for
   * these very messages (the broker has measured them already); the encoder asserts each size.
   */
  append(topic: string, queueId: number, messages: StoreMessageInput[], measuredSizes?: readonly number[]): Promise<AppendResult[]> {
    try {
      const sizes = this.validateAppend(topic, queueId, messages, measuredSizes);
      if (messages.length === 0) return Promise.resolve([]);
      if (this.index.whenBelowLimit() !== undefined) return this.appendWhenIndexCaughtUp(topic, queueId, messages, sizes);
      return this.enqueueAppend(topic, queueId, messages, sizes);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private validateAppend(topic: string, queueId: number, messages: StoreMessageInput[], measuredSizes: readonly number[] | undefined): readonly number[] {
    validateName('topic', topic);
    if (!Number.isInteger(queueId) || queueId < 0 || queueId > QUEUE_ID_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `queue id ${queueId} is not a 32-bit unsigned integer`, { queueId });
    }
    if (measuredSizes !== undefined) assert(measuredSizes.length === messages.length, `${measuredSizes.length} measured sizes for ${messages.length} messages`);
    const sizes = measuredSizes ?? measureBatch(topic, messages);
    const recordBytesMax = this.options.segmentBytes - PADDING_HEADER_BYTES;
    for (const size of sizes) {
      if (size > recordBytesMax) throw new ConveyorError(ErrorCode.MESSAGE_TOO_LARGE, `record of ${size} bytes does not fit a commit-log segment (at most ${recordBytesMax})`, { bytes: size, max: recordBytesMax });
    }
    this.checkWritable();
    return sizes;
  }

  /** The index writer is INDEX_PENDING_ENTRIES_MAX behind: wait for it, then append. */
  private async appendWhenIndexCaughtUp(topic: string, queueId: number, messages: StoreMessageInput[], sizes: readonly number[]): Promise<AppendResult[]> {
    for (let wait = this.index.whenBelowLimit(); wait !== undefined; wait = this.index.whenBelowLimit()) {
      await wait;
      this.checkWritable();
    }
    return this.enqueueAppend(topic, queueId, messages, sizes);
  }

  private enqueueAppend(topic: string, queueId: number, messages: StoreMessageInput[], sizes: readonly number[]): Promise<AppendResult[]> {
    if (this.replica.tailBytes > 0) throw new ConveyorError(ErrorCode.NOT_MASTER, 'this store is receiving replicated bytes; local appends are refused', {});
    const queue = this.queues.getOrCreate(topic, queueId);
    const storeTimestampMs = Math.max(this.options.clock(), this.lastStoreTimestampMs);
    this.lastStoreTimestampMs = storeTimestampMs;
    const encoded = encodeBatch({
      topic,
      queueId,
      firstQueueOffset: queue.nextQueueOffset,
      startPhysicalOffset: this.core.allocatedPhysicalOffset,
      segmentBytes: this.options.segmentBytes,
      storeTimestampMs,
      messages,
      sizes,
    });
    queue.nextQueueOffset += messages.length;
    this.core.allocatedPhysicalOffset = encoded.endPhysicalOffset;
    const ticket = new AppendTicket(this, encoded);
    this.core.writer.enqueue(encoded.chunks, ticket);
    return ticket.promise;
  }

  /** An append's bytes are written (async) or fsynced (sync): make them readable. */
  completeAppend(encoded: EncodedBatch): void {
    this.recordsAppended += encoded.results.length;
    this.core.dispatcher.dispatch(encoded.dispatch);
  }

  read(topic: string, queueId: number, queueOffset: number, options: ReadOptions): Promise<ReadResult> {
    const queue = this.queues.get(topic, queueId);
    if (queue === undefined) return this.reader.readUnknownQueue(topic, queueId, queueOffset);
    return readQueue(this.core.commitLog, queue, queueOffset, options, this.minPhysicalOffset);
  }

  queueRange(topic: string, queueId: number): QueueRange {
    const queue = this.queues.get(topic, queueId);
    return queue === undefined ? { minQueueOffset: 0, maxQueueOffset: 0 } : { minQueueOffset: queue.minQueueOffset, maxQueueOffset: queue.maxQueueOffset };
  }

  searchOffset(topic: string, queueId: number, timestampMs: number): Promise<number> {
    return this.reader.searchOffset(topic, queueId, timestampMs);
  }
  lastStoreTimestamp(topic: string, queueId: number): Promise<number> {
    return this.reader.lastStoreTimestamp(topic, queueId);
  }
  tailStart(topic: string, queueId: number, sinceMs: number, minPhysicalOffset: number): Promise<{ physicalOffset: number | null; previousStoreTimestampMs: number | null }> {
    return this.reader.tailStart(topic, queueId, sinceMs, Math.max(minPhysicalOffset, this.minPhysicalOffset));
  }
  /**
   * Hands `each` the message records of the log from `physicalOffset` (a record boundary) to the
   * written end, in order, a chunk of at most `chunkBytes` read at a time (start-up: the
   * de-duplication window's rebuild). Returns where it stopped: the written end, or earlier at a
   * record that does not check (the caller must not take the records after it as absent).
   */
  async scanRecords(physicalOffset: number, chunkBytes: number, each: (records: readonly RecordIndexFields[]) => void): Promise<number> {
    let at = Math.max(physicalOffset, this.minPhysicalOffset);
    const end = this.maxPhysicalOffset;
    let size = chunkBytes;
    while (at < end) {
      const bytes = await this.core.commitLog.readRange(at, size, end);
      if (bytes.length === 0) return at;
      const scan = scanLog(bytes, at, this.options.segmentBytes);
      if (scan.records.length > 0) each(scan.records);
      if (scan.validEndPhysicalOffset <= at) {
        // A record larger than the chunk: read more of it (records never cross a segment end).
        if (scan.stop === 'incomplete' && bytes.length === size && size < this.options.segmentBytes) {
          size = Math.min(size * 2, this.options.segmentBytes);
          continue;
        }
        return at;
      }
      if (scan.stop === 'corrupt') return scan.validEndPhysicalOffset;
      size = chunkBytes;
      at = scan.validEndPhysicalOffset;
    }
    return Math.max(at, end);
  }
  lookupById(messageId: string): Promise<Buffer | null> {
    return this.reader.lookupById(messageId);
  }
  lookupByKey(topic: string, key: string, maxCount: number): Promise<Buffer[]> {
    return this.reader.lookupByKey(topic, key, maxCount);
  }

  onDispatch(listener: (topic: string, queueId: number, maxQueueOffset: number) => void): () => void {
    return this.core.dispatcher.onDispatch(listener);
  }

  onFlushed(listener: (flushedPhysicalOffset: number) => void): () => void {
    this.flushedListeners.add(listener);
    return () => this.flushedListeners.delete(listener);
  }

  private emitFlushed(flushedPhysicalOffset: number): void {
    for (const listener of this.flushedListeners) listener(flushedPhysicalOffset);
  }

  /** Drops the topic's consume queues; its records stay in the log until retention but are never dispatched again. */
  async deleteTopic(topic: string): Promise<void> {
    const at = this.core.allocatedPhysicalOffset;
    this.core.dispatcher.deletedTopics.set(topic, at);
    await this.meta.putStoreNumber(DELETED_TOPIC_PREFIX + topic, at);
    await this.queues.deleteTopic(topic);
  }

  /**
   * Raw commit-log bytes from physicalOffset (padding included), at most maxBytes: up to the written
   * end in async flush mode, up to the flushed end in sync flush mode (a slave never gets bytes the
   * master could lose).
   */
  readCommitLog(physicalOffset: number, maxBytes: number): Promise<Buffer> {
    const end = this.options.flushMode === 'sync' ? this.flushedPhysicalOffset : this.maxPhysicalOffset;
    return this.reader.readCommitLog(physicalOffset, Math.min(maxBytes, READ_BYTES_MAX), end);
  }

  /** Slave: appends bytes copied from the master at the same offsets; see replica-appender.ts. */
  appendCommitLogBytes(physicalOffset: number, bytes: Uint8Array): Promise<void> {
    this.checkWritable();
    return this.replica.append(physicalOffset, bytes);
  }

  /** Runs retention now (also on a timer). */
  async runRetention(): Promise<RetentionRun> {
    const { commitLog, dispatcher } = this.core;
    return runRetention({
      commitLog,
      queues: this.queues,
      index: this.index,
      dispatcher,
      meta: this.meta,
      disk: this.disk,
      clock: this.options.clock,
      retentionMs: this.options.retentionMs,
      softThresholdPercent: this.options.diskSoftThresholdPercent,
      log: this.options.log,
    });
  }

  /**
   * fsyncs the commit log only (no consume queues, no checkpoint): what a replication slave needs
   * before acknowledging copied bytes. Consume queues and the index are derived from the log and
   * rebuilt by recovery; the flush tick still writes the checkpoint on its interval.
   */
  flushCommitLog(): Promise<void> {
    const { writer } = this.core;
    return writer.flush(writer.writtenPhysicalOffset);
  }

  /** fsyncs the log, writes and fsyncs consume queues, writes the checkpoint (the flush tick; also on demand). */
  flush(): Promise<void> {
    this.flushing ??= this.checkpoint().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async checkpoint(): Promise<void> {
    const { writer, dispatcher } = this.core;
    const consumeQueuePhysicalOffset = dispatcher.dispatchedPhysicalOffset;
    const queues = this.queues.progress().map((q): [string, number, number] => [q.topic, q.queueId, q.maxQueueOffset]);
    await writer.flush(writer.writtenPhysicalOffset);
    await this.queues.flushAll();
    await writeCheckpoint(this.options.dataDir, {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      segmentBytes: this.options.segmentBytes,
      commitLogFlushedPhysicalOffset: writer.flushedPhysicalOffset,
      consumeQueuePhysicalOffset,
      indexPhysicalOffset: this.index.persistedPhysicalOffset,
      queues,
      writtenAtMs: this.options.clock(),
    });
  }

  private startTimers(): void {
    const { log } = this.options;
    const every = (ms: number, task: () => Promise<unknown>, what: string): void => {
      /** The last run found no file descriptor left (sockets took them): logged once, retried each tick. */
      let postponed = false;
      const timer = setInterval(() => {
        task().then(() => {
          if (postponed) log.info({ task: what }, 'store task resumed: file descriptors available again');
          postponed = false;
        }, (err: unknown) => {
          if (this.closing) return;
          if (isOutOfDescriptors(err)) {
            // Nothing is lost: unwritten entries stay in memory, unsynced queues stay dirty, the old checkpoint stays.
            if (!postponed) log.warn({ err, task: what }, 'store task postponed: no file descriptor left');
            postponed = true;
            return;
          }
          this.failure ??= new ConveyorError(ErrorCode.INTERNAL, `store ${what} failed: ${(err as Error).message}; reopen the store to recover`, {}, { cause: err });
          log.error({ err }, `store ${what} failed`);
        });
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.flushIntervalMs, () => this.flush(), 'flush');
    if (this.options.backgroundTimers) {
      every(DISK_CHECK_INTERVAL_MS, () => this.disk.refresh(), 'disk check');
      every(RETENTION_INTERVAL_MS, () => this.runRetention(), 'retention');
    }
  }

  stats(): StoreStats {
    const w = this.core.writer.stats();
    return {
      flushMode: this.options.flushMode,
      writeCount: w.writeCount,
      bytesWritten: w.bytesWritten,
      recordsAppended: this.recordsAppended,
      fsyncCount: w.fsyncCount,
      recordsPerFsync: this.options.flushMode === 'sync' && w.fsyncCount > 0 ? w.fsyncRecords / w.fsyncCount : 0,
      flushLatencyMs: w.flushLatencyMs,
      minPhysicalOffset: this.minPhysicalOffset,
      maxPhysicalOffset: this.maxPhysicalOffset,
      flushedPhysicalOffset: this.flushedPhysicalOffset,
      indexPendingEntries: this.index.pendingEntries,
      diskUsedPercent: this.disk.usedPercent,
      openFiles: this.core.commitLog.fileCache.stats(),
    };
  }

  /** Clean close: waits for appends in flight, flushes and fsyncs everything, checkpoints, removes the abort marker. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    const { writer, commitLog, dispatcher } = this.core;
    await writer.whenIdle();
    await this.flushing?.catch(() => undefined);
    const failed = this.failure ?? writer.failed;
    if (failed === undefined) {
      await this.index.drain();
      await this.index.raiseProgress(dispatcher.dispatchedPhysicalOffset);
      await this.checkpoint();
    }
    await this.queues.close();
    await commitLog.close();
    if (failed === undefined) await removeAbortMarker(this.options.dataDir);
    await this.meta.close();
  }
}
