// An in-memory double of the Appender's store port (broker/append/appender.ts AppendStore), for
// the Appender's unit tests only: it keeps every message it is handed, as it was handed, with the
// placement a store would give it (contiguous queue offsets per queue, physical offsets by the
// measured record sizes, one store timestamp per batch). It checks nothing: any refusal a test
// sees comes from the Appender. Cluster tests run the real store.
import type { AppendStore } from '../../../../broker/append/appender.js';
import type { AppendResult, StoreMessageInput } from '../../../../broker/store/index.js';
import { measureBatch } from '../../../../common/record.js';

export interface StoredMessage {
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly message: StoreMessageInput;
}

export class MemoryAppendStore implements AppendStore {
  readonly stored: StoredMessage[] = [];
  /** The sizes each append was handed (undefined: the caller left the measuring to the store). */
  readonly measuredSizes: Array<readonly number[] | undefined> = [];
  private readonly nextQueueOffsets = new Map<string, number>();
  private nextPhysicalOffset = 0;

  constructor(private readonly clock: () => number = () => 1_000_000) {}

  append(topic: string, queueId: number, messages: StoreMessageInput[], measuredSizes?: readonly number[]): Promise<AppendResult[]> {
    this.measuredSizes.push(measuredSizes);
    const sizes = measuredSizes ?? measureBatch(topic, messages);
    const queueKey = `${topic}\u0000${queueId}`;
    let queueOffset = this.nextQueueOffsets.get(queueKey) ?? 0;
    const storeTimestampMs = this.clock();
    const results = messages.map((message, i): AppendResult => {
      const size = sizes[i]!;
      const result = { messageId: message.messageId, topic, queueId, queueOffset, physicalOffset: this.nextPhysicalOffset, storeTimestampMs, size };
      this.stored.push({ topic, queueId, queueOffset, physicalOffset: this.nextPhysicalOffset, message });
      queueOffset += 1;
      this.nextPhysicalOffset += size;
      return result;
    });
    this.nextQueueOffsets.set(queueKey, queueOffset);
    return Promise.resolve(results);
  }

  /** One past the last stored byte. */
  get endPhysicalOffset(): number {
    return this.nextPhysicalOffset;
  }
}
