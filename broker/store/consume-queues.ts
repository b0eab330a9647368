// Every consume queue of the store, by topic and queue id: loading them at open, creating them on
// first dispatch, writing and syncing the dirty ones, retention and topic deletion.
import { readdir, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { isValidName } from '../../common/names.js';
import { ConsumeQueue } from './consume-queue.js';
import { isOutOfDescriptors, type FileHandleCache } from './file-handle-cache.js';
import { consumeQueueDir, consumeQueueRootDir, consumeQueueTopicDir } from './layout.js';
import { CONSUME_QUEUE_WRITE_THRESHOLD_BYTES } from './store-limits.js';

/**
 * Queues loaded at once at open: each load is a few small file operations on libuv's pool (4
 * threads), so a few per thread keep it busy; each holds at most one cached handle at a time.
 */
const QUEUE_LOADS_IN_FLIGHT = 16;

interface QueueProgress {
  topic: string;
  queueId: number;
  maxQueueOffset: number;
}

export class ConsumeQueues {
  private readonly byTopic = new Map<string, Map<number, ConsumeQueue>>();
  private dirty = new Set<ConsumeQueue>();
  private writeError: unknown;

  constructor(
    private readonly dataDir: string,
    readonly entriesPerFile: number,
    private readonly log: Logger,
    private readonly cache: FileHandleCache,
  ) {}

  /**
   * Finds every queue on disk and drops entries past the log end, QUEUE_LOADS_IN_FLIGHT queues at
   * a time; files are opened through the cache, so at most its budget at once.
   */
  async load(logEndPhysicalOffset: number): Promise<void> {
    const found: Array<{ topic: string; queueId: number }> = [];
    const topics = await readdir(consumeQueueRootDir(this.dataDir)).catch(() => [] as string[]);
    for (const topic of topics) {
      if (!isValidName(topic)) continue;
      const queueIds = await readdir(consumeQueueTopicDir(this.dataDir, topic)).catch(() => [] as string[]);
      for (const name of queueIds) {
        const queueId = Number(name);
        if (/^\d+$/.test(name) && Number.isSafeInteger(queueId)) found.push({ topic, queueId });
      }
    }
    let next = 0;
    const loadNext = async (): Promise<void> => {
      for (let item = found[next++]; item !== undefined; item = found[next++]) await this.loadQueue(item.topic, item.queueId, logEndPhysicalOffset);
    };
    await Promise.all(Array.from({ length: Math.min(QUEUE_LOADS_IN_FLIGHT, found.length) }, loadNext));
  }

  private async loadQueue(topic: string, queueId: number, logEndPhysicalOffset: number): Promise<void> {
    const { queue, report } = await ConsumeQueue.load(consumeQueueDir(this.dataDir, topic, queueId), topic, queueId, this.entriesPerFile, this.cache);
    const truncatedEntries = report.truncatedEntries + (await queue.dropEntriesPastLogEnd(logEndPhysicalOffset));
    if (report.droppedFiles > 0 || truncatedEntries > 0) {
      this.log.warn({ topic, queueId, droppedFiles: report.droppedFiles, truncatedEntries }, 'consume queue tail truncated');
    }
    this.put(queue);
  }

  private put(queue: ConsumeQueue): void {
    let queues = this.byTopic.get(queue.topic);
    if (queues === undefined) {
      queues = new Map();
      this.byTopic.set(queue.topic, queues);
    }
    queues.set(queue.queueId, queue);
  }

  get(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.byTopic.get(topic)?.get(queueId);
  }

  getOrCreate(topic: string, queueId: number, startQueueOffset = 0): ConsumeQueue {
    const existing = this.get(topic, queueId);
    if (existing !== undefined) return existing;
    const queue = new ConsumeQueue(topic, queueId, consumeQueueDir(this.dataDir, topic, queueId), this.entriesPerFile, startQueueOffset, this.cache);
    this.put(queue);
    return queue;
  }

  *all(): Generator<ConsumeQueue> {
    for (const queues of this.byTopic.values()) yield* queues.values();
  }

  topicQueues(topic: string): ConsumeQueue[] {
    return [...(this.byTopic.get(topic)?.values() ?? [])];
  }

  /** Adds dispatched entries; writes the queue's memory part once it is large. */
  append(queue: ConsumeQueue, entries: Buffer, firstQueueOffset: number): void {
    queue.append(entries, firstQueueOffset);
    this.dirty.add(queue);
    if (queue.pendingBytes >= CONSUME_QUEUE_WRITE_THRESHOLD_BYTES) {
      queue.writePending().catch((err: unknown) => {
        // Out of descriptors: the entries stay in memory and the next flush tick writes them.
        if (!isOutOfDescriptors(err)) this.writeError ??= err;
      });
    }
  }

  /**
   * Writes and fdatasyncs every queue changed since the last call. On an error the queues not yet
   * synced stay dirty, so the next call (the next flush tick) syncs them.
   */
  async flushAll(): Promise<void> {
    if (this.writeError !== undefined) throw this.writeError;
    const dirty = this.dirty;
    this.dirty = new Set();
    for (const queue of dirty) {
      try {
        await queue.sync();
      } catch (err) {
        for (const left of dirty) if (this.byTopic.get(left.topic)?.get(left.queueId) === left) this.dirty.add(left);
        throw err;
      }
      dirty.delete(queue);
    }
  }

  progress(): QueueProgress[] {
    const out: QueueProgress[] = [];
    for (const queue of this.all()) out.push({ topic: queue.topic, queueId: queue.queueId, maxQueueOffset: queue.maxQueueOffset });
    return out;
  }

  async deleteTopic(topic: string): Promise<void> {
    const queues = this.byTopic.get(topic);
    this.byTopic.delete(topic);
    for (const queue of queues?.values() ?? []) {
      this.dirty.delete(queue);
      await queue.remove();
    }
    await rm(consumeQueueTopicDir(this.dataDir, topic), { recursive: true, force: true });
  }

  async advanceMin(minPhysicalOffset: number): Promise<void> {
    for (const queue of this.all()) await queue.advanceMin(minPhysicalOffset);
  }

  async close(): Promise<void> {
    for (const queue of this.all()) await queue.close();
  }
}
