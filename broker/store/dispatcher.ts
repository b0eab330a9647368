// Applies written records to the derived structures: consume-queue entries (readable at once) and
// the message index (written to level in the background). Fed in log order by the writer for
// local appends, by the replication path for copied bytes, and by recovery when rebuilding.
import type { Logger } from 'pino';
import { tagHashParts, type RecordIndexFields } from '../../common/record.js';
import type { DispatchBatch } from './batch-encoder.js';
import { CONSUME_QUEUE_ENTRY_BYTES, writeEntry } from './consume-queue-entry.js';
import type { ConsumeQueues } from './consume-queues.js';
import type { MessageIndex } from './message-index.js';

type DispatchListener = (topic: string, queueId: number, maxQueueOffset: number) => void;

export class Dispatcher {
  /** Every record below is applied to the consume queues. */
  dispatchedPhysicalOffset: number;
  private readonly listeners = new Set<DispatchListener>();
  private readonly toNotify = new Map<string, { topic: string; queueId: number; maxQueueOffset: number }>();
  private notifyScheduled = false;
  /** Topic → physical offset when it was deleted: its records below are not dispatched again. */
  readonly deletedTopics = new Map<string, number>();

  constructor(private readonly queues: ConsumeQueues, private readonly index: MessageIndex, startPhysicalOffset: number, private readonly log: Logger) {
    this.dispatchedPhysicalOffset = startPhysicalOffset;
  }

  onDispatch(listener: DispatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies consecutive records of one queue. `indexToo` is false for records the index already holds. */
  dispatch(batch: DispatchBatch, indexToo = true): void {
    this.dispatchedPhysicalOffset = Math.max(this.dispatchedPhysicalOffset, batch.endPhysicalOffset);
    const deletedAt = this.deletedTopics.get(batch.topic);
    if (deletedAt !== undefined && batch.endPhysicalOffset <= deletedAt) return;
    const count = batch.entries.length / CONSUME_QUEUE_ENTRY_BYTES;
    const queue = this.queues.getOrCreate(batch.topic, batch.queueId, batch.firstQueueOffset);
    if (batch.firstQueueOffset > queue.maxQueueOffset) {
      // Entries before this record are gone from the log (retention, or a queue rebuilt from a later start).
      this.log.warn({ topic: batch.topic, queueId: batch.queueId, from: queue.maxQueueOffset, to: batch.firstQueueOffset }, 'consume queue restarted after a gap');
      queue.restartAt(batch.firstQueueOffset);
    }
    const skip = Math.max(0, queue.maxQueueOffset - batch.firstQueueOffset);
    if (skip < count) {
      const entries = skip === 0 ? batch.entries : batch.entries.subarray(skip * CONSUME_QUEUE_ENTRY_BYTES);
      this.queues.append(queue, entries, batch.firstQueueOffset + skip);
      queue.nextQueueOffset = Math.max(queue.nextQueueOffset, queue.maxQueueOffset);
      this.scheduleNotify(batch.topic, batch.queueId, queue.maxQueueOffset);
    }
    if (indexToo) this.index.add(batch);
  }

  /** One record found by recovery or copied by replication. */
  dispatchRecord(fields: RecordIndexFields, indexToo: boolean): void {
    const entries = Buffer.allocUnsafe(CONSUME_QUEUE_ENTRY_BYTES);
    const hash = tagHashParts(fields.tag);
    writeEntry(entries, 0, fields.physicalOffset, fields.size, hash.high, hash.low);
    this.dispatch(
      {
        topic: fields.topic,
        queueId: fields.queueId,
        firstQueueOffset: fields.queueOffset,
        entries,
        messageIds: [fields.messageId],
        keys: [fields.keys],
        physicalOffsets: [fields.physicalOffset],
        sizes: [fields.size],
        endPhysicalOffset: fields.physicalOffset + fields.size,
      },
      indexToo,
    );
  }

  private scheduleNotify(topic: string, queueId: number, maxQueueOffset: number): void {
    if (this.listeners.size === 0) return;
    this.toNotify.set(`${topic}\u0000${queueId}`, { topic, queueId, maxQueueOffset });
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      const pending = [...this.toNotify.values()];
      this.toNotify.clear();
      for (const { topic: t, queueId: q, maxQueueOffset: max } of pending) {
        for (const listener of this.listeners) listener(t, q, max);
      }
    });
  }
}
