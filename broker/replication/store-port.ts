// The part of the store (broker/store, MessageStore) that replication uses, as interfaces: the
// broker passes its MessageStore, which satisfies both; tests may pass the same. Keeping the
// surface this small is what lets the replication core ignore how the store is built.
import type { MetadataSource, MetadataTarget } from './metadata-sync.js';

/** The master reads its commit log and is told when it grows. */
export interface MasterStore {
  /** First byte still on disk (retention moves it forward a segment at a time). */
  readonly minPhysicalOffset: number;
  /** One past the last byte written to the segment files. */
  readonly maxPhysicalOffset: number;
  /**
   * Raw bytes from `physicalOffset`, padding included, at most `maxBytes`; empty at the readable
   * end (in sync flush mode the store hands out flushed bytes only). Throws REPLICATION_DATA_GONE
   * below minPhysicalOffset.
   */
  readCommitLog(physicalOffset: number, maxBytes: number): Promise<Buffer>;
  onDispatch(listener: (topic: string, queueId: number, maxQueueOffset: number) => void): () => void;
  onFlushed(listener: (flushedPhysicalOffset: number) => void): () => void;
  readonly meta: MetadataSource;
}

/** The slave appends copied bytes at the same offsets and flushes them. */
export interface SlaveStore {
  readonly maxPhysicalOffset: number;
  readonly flushedPhysicalOffset: number;
  /** Where the next copied bytes must start: maxPhysicalOffset plus a buffered partial record. */
  readonly receivedPhysicalOffset: number;
  /**
   * Appends bytes copied from the master at `physicalOffset`, which is receivedPhysicalOffset, or
   * maxPhysicalOffset for a resend from the last whole record, or (empty log only) the base of the
   * master's first segment. Resolves once the whole records among them are written and dispatched.
   * The next call may come before that (the slave pipelines appends): each is placed synchronously.
   */
  appendCommitLogBytes(physicalOffset: number, bytes: Uint8Array): Promise<void>;
  /**
   * fsyncs the commit log written so far (log only: consume queues and the index are derived from
   * it and rebuilt by recovery, so they need no fsync before the slave acknowledges).
   */
  flushCommitLog(): Promise<void>;
  onFlushed(listener: (flushedPhysicalOffset: number) => void): () => void;
  readonly meta: MetadataTarget;
}
