// Pure core of the single commit-log writer (no I/O, no timers): which queued appends the next
// write takes, which appends a finished write or fsync completes. The shell (log-writer.ts) does
// the writev/fdatasync calls and feeds the results back. Appends that arrive while a write or an
// fsync runs wait here and are merged into the next one.
import { assert } from '../../common/errors.js';
import type { WriteChunk } from './batch-encoder.js';
import type { FlushMode } from './types.js';

export interface CommitTicket {
  /** End of this append's bytes in the commit log. */
  endPhysicalOffset: number;
  /** Records it carries (for records-per-fsync). */
  records: number;
}

export interface PlannedWrite<T extends CommitTicket> {
  chunks: WriteChunk[];
  tickets: T[];
  bytes: number;
  endPhysicalOffset: number;
}

interface GroupCommitLimits {
  iovecsMax: number;
  bytesMax: number;
}

export class GroupCommit<T extends CommitTicket> {
  private queued: { chunks: WriteChunk[]; ticket: T; bytes: number }[] = [];
  private readonly awaitingSync: T[] = [];
  private writing = false;
  private syncing = false;
  private syncRequestedUpTo = 0;
  /** Accepted, not yet written. */
  queuedBytes = 0;
  writtenPhysicalOffset: number;
  flushedPhysicalOffset: number;

  constructor(private readonly mode: FlushMode, startPhysicalOffset: number, private readonly limits: GroupCommitLimits) {
    this.writtenPhysicalOffset = startPhysicalOffset;
    this.flushedPhysicalOffset = startPhysicalOffset;
  }

  /** An empty log that starts elsewhere (a slave copying from a master's first segment). */
  restartEmptyAt(physicalOffset: number): void {
    assert(this.idle && this.writtenPhysicalOffset === this.flushedPhysicalOffset, 'restart of a busy writer');
    this.writtenPhysicalOffset = physicalOffset;
    this.flushedPhysicalOffset = physicalOffset;
    this.syncRequestedUpTo = physicalOffset;
  }

  enqueue(chunks: WriteChunk[], ticket: T): void {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.bytes.length;
    this.queued.push({ chunks, ticket, bytes });
    this.queuedBytes += bytes;
  }

  get idle(): boolean {
    return !this.writing && !this.syncing && this.queued.length === 0 && this.awaitingSync.length === 0;
  }

  /** The next write: every queued append that fits the limits (at least one), or undefined if a write runs or nothing waits. */
  takeWrite(): PlannedWrite<T> | undefined {
    if (this.writing || this.queued.length === 0) return undefined;
    const chunks: WriteChunk[] = [];
    const tickets: T[] = [];
    let bytes = 0;
    let taken = 0;
    while (taken < this.queued.length) {
      const next = this.queued[taken]!;
      const tooMany = tickets.length > 0 && (chunks.length + next.chunks.length > this.limits.iovecsMax || bytes + next.bytes > this.limits.bytesMax);
      if (tooMany) break;
      for (const chunk of next.chunks) chunks.push(chunk);
      tickets.push(next.ticket);
      bytes += next.bytes;
      taken++;
    }
    // Drop the taken entries: nothing may keep written buffers alive.
    this.queued = taken === this.queued.length ? [] : this.queued.slice(taken);
    this.queuedBytes -= bytes;
    this.writing = true;
    const last = tickets[tickets.length - 1]!;
    return { chunks, tickets, bytes, endPhysicalOffset: last.endPhysicalOffset };
  }

  /** A write finished: in async mode its appends are done; in sync mode they wait for an fsync. */
  writeDone(write: PlannedWrite<T>): T[] {
    assert(this.writing, 'writeDone without a write in flight');
    this.writing = false;
    this.writtenPhysicalOffset = write.endPhysicalOffset;
    if (this.mode === 'async') return write.tickets;
    for (const ticket of write.tickets) this.awaitingSync.push(ticket);
    return [];
  }

  /** Asks for an fsync covering everything written so far (the async flush tick, close). */
  requestSync(): void {
    this.syncRequestedUpTo = Math.max(this.syncRequestedUpTo, this.writtenPhysicalOffset);
  }

  /**
   * The offset the next fsync covers (everything written so far), or undefined if one runs, none
   * is needed, or a write is in flight: that write finishes first (writes take microseconds, fsyncs
   * a fraction of a millisecond), so the fsync covers it too and more appends share each fsync.
   * The shell asks for the fsync before the next write, so writes cannot starve fsyncs. A target
   * not past flushedPhysicalOffset needs no syscall: the shell completes it at once.
   */
  takeSync(): number | undefined {
    if (this.syncing || this.writing) return undefined;
    if (this.awaitingSync.length === 0 && this.syncRequestedUpTo <= this.flushedPhysicalOffset) return undefined;
    this.syncing = true;
    return this.writtenPhysicalOffset;
  }

  /** An fsync up to `target` finished: the appends it covers are done. Returns them with the records they carry. */
  syncDone(target: number): { tickets: T[]; records: number } {
    assert(this.syncing, 'syncDone without an fsync in flight');
    this.syncing = false;
    this.flushedPhysicalOffset = Math.max(this.flushedPhysicalOffset, target);
    let n = 0;
    let records = 0;
    while (n < this.awaitingSync.length && this.awaitingSync[n]!.endPhysicalOffset <= target) {
      records += this.awaitingSync[n]!.records;
      n++;
    }
    return { tickets: this.awaitingSync.splice(0, n), records };
  }

  /** A write or fsync failed: every pending append fails with it; the writer accepts nothing more. */
  failAll(): T[] {
    const failed = this.awaitingSync.splice(0);
    for (const entry of this.queued) failed.push(entry.ticket);
    this.queued = [];
    this.queuedBytes = 0;
    this.writing = false;
    this.syncing = false;
    return failed;
  }
}
