// The message index in level: message id → (physical offset, size) and (topic, key) → physical
// offsets. Keys carry the segment base of the record, so retention drops a deleted segment's
// entries with one range clear per kind:
//   id:<segmentBase 20>\0<messageId>                        u64 physicalOffset, u32 size
//   idrun:<segmentBase 20>\0<first messageId>               a run of generator ids (id-run-index.ts)
//   idspan:<segmentBase 20>\0<instance 12 hex>              its runs' counter span (id-run-spans.ts)
//   key:<segmentBase 20>\0<topic>\0<key>\0<physical 16 hex>  u32 size
//   store:indexPhysicalOffset                               u64: every record below is indexed
// Writes are batched off the append path. Until a batch is in level, lookups find it in memory:
// one map entry per unwritten id points at its newest unwritten batch (no object per record), and
// only an id found there makes a lookup scan the unwritten batches (at most
// INDEX_PENDING_ENTRIES_MAX entries). Runs of generator-format ids (broker/dedup/id-runs.ts) get no map
// entry: a lookup of such an id checks each unwritten batch's runs (a few comparisons per batch).
// In level, ids of consecutive, contiguous records with consecutive generator counters share one
// `idrun:` entry (one put per up to INDEX_RUN_IDS_MAX ids); a lookup reads both kinds.
import type { Logger } from 'pino';
import { writeU64 } from '../../common/record.js';
import { generatorCounter, generatorInstance } from '../../common/message-id.js';
import { RUN_IDS_MIN, runIndexOf, splitIdsIntoRuns, type BatchRuns } from '../dedup/id-runs.js';
import type { DispatchBatch } from './batch-encoder.js';
import { ID_SPAN_KEY_PREFIX, IdRunSpans } from './id-run-spans.js';
import { ID_KEY_PREFIX, ID_RUN_KEY_PREFIX, IdRunWriter, locationInRun, RUN_LOOKUP_ENTRIES, runKeyRange, runQueryOf, type IndexLocation, type RunQuery } from './id-run-index.js';
import { offsetFileName, segmentBaseOf } from './layout.js';
import type { MetaDb, MetadataStore } from './metadata.js';
import { INDEX_BATCH_ENTRIES_MAX, INDEX_PENDING_ENTRIES_MAX, INDEX_RUN_LOOKUP_ITERATORS_MAX, INDEX_WRITE_DELAY_MS, INDEX_WRITE_ENTRIES_MIN } from './store-limits.js';

export type { IndexLocation } from './id-run-index.js';

const PROGRESS_KEY = 'indexPhysicalOffset';

export class MessageIndex {
  /** Not yet handed to level, oldest first. */
  private pending: DispatchBatch[] = [];
  /** Being written to level. */
  private inFlight: DispatchBatch[] = [];
  private writing = false;
  private waiters: (() => void)[] = [];
  private failure: unknown;
  private delayTimer: NodeJS.Timeout | undefined;
  /** Callers waiting for the backlog to drain: write at once instead of gathering. */
  private drainWaiting = 0;
  pendingEntries = 0;
  /** Level entries written since open, by kind (tests and stats: a run of ids is one entry). */
  runEntriesWritten = 0;
  idEntriesWritten = 0;
  /** Level iterators lookups opened on run entries since open (tests: one per segment whose span holds the id). */
  runIteratorsOpened = 0;
  /**
   * The newest batch in `pending` or `inFlight` holding each id: `locateId` scans the unwritten
   * batches only for an id that is there (one map entry per id, no object per record).
   */
  private readonly unwrittenById = new Map<string, DispatchBatch>();
  /** The runs of generator ids of each unwritten batch that has any (their ids are not in `unwrittenById`). */
  private readonly unwrittenRuns = new Map<DispatchBatch, BatchRuns>();

  private constructor(private readonly meta: MetadataStore, private readonly db: MetaDb, private readonly segmentBytes: number, public persistedPhysicalOffset: number, private readonly spans: IdRunSpans, private readonly log: Logger) {}

  static async open(meta: MetadataStore, segmentBytes: number, log: Logger): Promise<MessageIndex> {
    const spans = new IdRunSpans();
    for await (const [key, value] of meta.db.iterator({ gte: ID_SPAN_KEY_PREFIX, lt: `${ID_SPAN_KEY_PREFIX}\uffff` })) spans.load(key, value);
    return new MessageIndex(meta, meta.db, segmentBytes, (await meta.getStoreNumber(PROGRESS_KEY)) ?? 0, spans, log);
  }

  /** Recovery: entries at or past the log end point at nothing; index again from there. */
  async lowerProgress(physicalOffset: number): Promise<void> {
    if (this.persistedPhysicalOffset <= physicalOffset) return;
    this.persistedPhysicalOffset = physicalOffset;
    await this.meta.putStoreNumber(PROGRESS_KEY, physicalOffset);
  }

  /** Clean close: everything below is indexed (records of deleted topics are never added). */
  async raiseProgress(physicalOffset: number): Promise<void> {
    if (this.persistedPhysicalOffset >= physicalOffset || this.pendingEntries > 0 || this.writing) return;
    this.persistedPhysicalOffset = physicalOffset;
    await this.meta.putStoreNumber(PROGRESS_KEY, physicalOffset);
  }

  add(batch: DispatchBatch): void {
    this.pending.push(batch);
    this.pendingEntries += batch.messageIds.length;
    const ids = batch.messageIds;
    // A slave dispatches record by record: a batch too short for a run is not split (no allocation).
    const split = ids.length < RUN_IDS_MIN ? undefined : splitIdsIntoRuns(ids.length, (i) => ids[i]!);
    if (split === undefined || split.instances.length === 0) {
      for (let i = 0; i < ids.length; i++) this.rememberUnwrittenId(ids[i]!, batch);
    } else {
      this.unwrittenRuns.set(batch, split);
      for (let k = 0; k < split.singles.length; k++) this.rememberUnwrittenId(ids[split.singles[k]!]!, batch);
    }
    this.pump();
  }

  private rememberUnwrittenId(id: string, batch: DispatchBatch): void {
    if (id.length > 0) this.unwrittenById.set(id, batch);
  }

  /** undefined when appends may go on; else a promise for when the backlog is below its limit. */
  whenBelowLimit(): Promise<void> | undefined {
    if (this.pendingEntries < INDEX_PENDING_ENTRIES_MAX || this.failure !== undefined) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when everything added so far is in level. */
  async drain(): Promise<void> {
    this.drainWaiting++;
    try {
      while (this.pendingEntries > 0 || this.writing) {
        if (this.failure !== undefined) throw this.failure;
        const woken = new Promise<void>((resolve) => this.waiters.push(resolve));
        this.pump();
        await woken;
      }
    } finally {
      this.drainWaiting--;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  get failed(): unknown {
    return this.failure;
  }

  private pump(): void {
    if (this.writing || this.pending.length === 0 || this.failure !== undefined) return;
    // Gather entries for a moment unless there are many: one level write per few milliseconds, not per append.
    if (this.pendingEntries < INDEX_WRITE_ENTRIES_MIN && this.drainWaiting === 0) {
      if (this.delayTimer === undefined) {
        this.delayTimer = setTimeout(this.onDelay, INDEX_WRITE_DELAY_MS);
        this.delayTimer.unref();
      }
      return;
    }
    if (this.delayTimer !== undefined) {
      clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
    }
    let entries = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || entries + this.pending[n]!.messageIds.length <= INDEX_BATCH_ENTRIES_MAX)) {
      entries += this.pending[n]!.messageIds.length;
      n++;
    }
    const taken = this.pending.splice(0, n);
    this.inFlight = taken;
    this.writing = true;
    this.write(taken).then(
      () => {
        this.writing = false;
        this.forgetUnwritten(taken);
        this.inFlight = [];
        this.pendingEntries -= entries;
        this.wake();
        this.pump();
      },
      (err: unknown) => {
        this.writing = false;
        this.failure = err;
        this.log.error({ err }, 'message index write failed');
        this.wake();
      },
    );
  }

  /** Written batches are in level now; an id whose newest unwritten batch was one of them has none left (batches are written oldest first). */
  private forgetUnwritten(written: readonly DispatchBatch[]): void {
    for (const batch of written) {
      const ids = batch.messageIds;
      const split = this.unwrittenRuns.size === 0 ? undefined : this.unwrittenRuns.get(batch);
      if (split === undefined) {
        for (let i = 0; i < ids.length; i++) this.forgetUnwrittenId(ids[i]!, batch);
      } else {
        this.unwrittenRuns.delete(batch);
        for (let k = 0; k < split.singles.length; k++) this.forgetUnwrittenId(ids[split.singles[k]!]!, batch);
      }
    }
  }

  private forgetUnwrittenId(id: string, batch: DispatchBatch): void {
    if (this.unwrittenById.get(id) === batch) this.unwrittenById.delete(id);
  }

  private readonly onDelay = (): void => {
    this.delayTimer = undefined;
    this.drainWaiting++;
    this.pump();
    this.drainWaiting--;
  };

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private async write(taken: DispatchBatch[]): Promise<void> {
    // One array for db.batch(ops), not a chained batch: a chained batch's close (abstract-level's
    // resource bookkeeping) leaves much of what dies in the broker's old generation
    // (docs/performance.md "Broker RSS").
    const ops: Array<{ type: 'put'; key: string; value: Uint8Array }> = [];
    const out = { put: (key: string, value: Uint8Array): void => void ops.push({ type: 'put', key, value }) };
    let progress = this.persistedPhysicalOffset;
    let entries = 0;
    for (const batch of taken) entries += batch.messageIds.length;
    const values = Buffer.allocUnsafe(entries * 12 + 8);
    let v = 0;
    let baseOffset = -1;
    let base = '';
    // Records in log order, across the batches of this write: a slave's and recovery's batches of one record form runs too.
    const ids = new IdRunWriter(out, values, this.onRun);
    for (const batch of taken) {
      for (let i = 0; i < batch.messageIds.length; i++) {
        const physicalOffset = batch.physicalOffsets[i]!;
        const size = batch.sizes[i]!;
        const segmentBase = segmentBaseOf(physicalOffset, this.segmentBytes);
        if (segmentBase !== baseOffset) {
          baseOffset = segmentBase;
          base = offsetFileName(segmentBase);
        }
        writeU64(values, v, physicalOffset);
        values.writeUInt32BE(size, v + 8);
        ids.add(batch.messageIds[i]!, base, physicalOffset, size, v);
        for (const key of batch.keys[i]!) {
          out.put(`key:${base}\u0000${batch.topic}\u0000${key}\u0000${physicalOffset.toString(16).padStart(16, '0')}`, values.subarray(v + 8, v + 12));
        }
        v += 12;
      }
      progress = Math.max(progress, batch.endPhysicalOffset);
    }
    ids.flush();
    this.spans.takeChanged((key, value) => out.put(key, value));
    this.runEntriesWritten += ids.runEntries;
    this.idEntriesWritten += ids.idEntries;
    writeU64(values, v, progress);
    out.put(`store:${PROGRESS_KEY}`, values.subarray(v, v + 8));
    await this.db.batch(ops);
    this.persistedPhysicalOffset = progress;
  }

  private readonly onRun = (segmentBaseName: string, instance: number, first: number, last: number): void => this.spans.add(segmentBaseName, instance, first, last);

  /** Batches not yet in level, newest first. */
  private *unwrittenNewestFirst(): Generator<DispatchBatch> {
    for (let i = this.pending.length - 1; i >= 0; i--) yield this.pending[i]!;
    for (let i = this.inFlight.length - 1; i >= 0; i--) yield this.inFlight[i]!;
  }

  private segmentBasesNewestFirst(minPhysicalOffset: number, maxPhysicalOffset: number): string[] {
    const bases: string[] = [];
    if (maxPhysicalOffset <= minPhysicalOffset) return bases;
    for (let base = segmentBaseOf(maxPhysicalOffset - 1, this.segmentBytes); base >= segmentBaseOf(minPhysicalOffset, this.segmentBytes); base -= this.segmentBytes) {
      bases.push(offsetFileName(base));
    }
    return bases;
  }

  /** Where records with this id may be, newest first (the caller reads and checks them). */
  async locateId(messageId: string, minPhysicalOffset: number, maxPhysicalOffset: number): Promise<IndexLocation[]> {
    const out: IndexLocation[] = [];
    const single = this.unwrittenById.has(messageId);
    const instance = this.unwrittenRuns.size > 0 ? generatorInstance(messageId) : -1;
    if (single || instance >= 0) {
      const counter = instance >= 0 ? generatorCounter(messageId) : -1;
      for (const batch of this.unwrittenNewestFirst()) {
        if (single) {
          // The id is a single somewhere: compare every id (runs included), newest first.
          for (let i = batch.messageIds.length - 1; i >= 0; i--) {
            if (batch.messageIds[i] === messageId) out.push({ physicalOffset: batch.physicalOffsets[i]!, size: batch.sizes[i]! });
          }
          continue;
        }
        const split = this.unwrittenRuns.get(batch);
        const i = split === undefined ? -1 : runIndexOf(split, instance, counter);
        if (i >= 0 && batch.messageIds[i] === messageId) out.push({ physicalOffset: batch.physicalOffsets[i]!, size: batch.sizes[i]! });
      }
    }
    const bases = this.segmentBasesNewestFirst(minPhysicalOffset, maxPhysicalOffset);
    if (bases.length === 0) return out;
    const query = runQueryOf(messageId);
    // Both kinds at once: `id:` keys (ids in no run, and everything a broker before run entries wrote) and run entries.
    const runBases = query === undefined ? [] : this.spans.segmentsHolding(bases, query.instance, query.counter);
    const [values, inRuns] = await Promise.all([this.db.getMany(bases.map((base) => `${ID_KEY_PREFIX}${base}\u0000${messageId}`)), query === undefined || runBases.length === 0 ? [] : this.locateInRuns(query, runBases)]);
    const written: IndexLocation[] = inRuns;
    for (const value of values) {
      if (value === undefined) continue;
      const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      written.push({ physicalOffset: buf.readUInt32BE(0) * 0x1_0000_0000 + buf.readUInt32BE(4), size: buf.readUInt32BE(8) });
    }
    // Newest first; a place seen in memory and again in level (its batch was written meanwhile) is listed once.
    written.sort((a, b) => b.physicalOffset - a.physicalOffset);
    for (const location of written) {
      if (!out.some((l) => l.physicalOffset === location.physicalOffset)) out.push(location);
    }
    return out;
  }

  /** The places of a generator id in the run entries of these segments: one bounded reverse range each, at most INDEX_RUN_LOOKUP_ITERATORS_MAX at once. */
  private async locateInRuns(query: RunQuery, bases: readonly string[]): Promise<IndexLocation[]> {
    const out: IndexLocation[] = [];
    for (let from = 0; from < bases.length; from += INDEX_RUN_LOOKUP_ITERATORS_MAX) {
      const found = await Promise.all(bases.slice(from, from + INDEX_RUN_LOOKUP_ITERATORS_MAX).map((base) => this.locateInSegmentRuns(query, base)));
      for (const locations of found) out.push(...locations);
    }
    return out;
  }

  private async locateInSegmentRuns(query: RunQuery, base: string): Promise<IndexLocation[]> {
    const out: IndexLocation[] = [];
    const iterator = this.db.iterator({ ...runKeyRange(base, query), reverse: true });
    this.runIteratorsOpened++;
    try {
      // One read holds every run of the range unless runs overlap (the same ids stored twice in a segment).
      for (;;) {
        const entries = await iterator.nextv(RUN_LOOKUP_ENTRIES);
        for (const [key, value] of entries) {
          const location = locationInRun(key, value, query);
          if (location !== undefined) out.push(location);
        }
        if (entries.length < RUN_LOOKUP_ENTRIES) return out;
      }
    } finally {
      await iterator.close();
    }
  }

  /** Where records with this key may be, newest first, at most maxCount. */
  async locateKey(topic: string, key: string, maxCount: number, minPhysicalOffset: number, maxPhysicalOffset: number): Promise<IndexLocation[]> {
    const out: IndexLocation[] = [];
    for (const batch of this.unwrittenNewestFirst()) {
      if (batch.topic !== topic) continue;
      for (let i = batch.keys.length - 1; i >= 0 && out.length < maxCount; i--) {
        if (batch.keys[i]!.includes(key)) out.push({ physicalOffset: batch.physicalOffsets[i]!, size: batch.sizes[i]! });
      }
    }
    const seen = new Set(out.map((l) => l.physicalOffset));
    for (const base of this.segmentBasesNewestFirst(minPhysicalOffset, maxPhysicalOffset)) {
      if (out.length >= maxCount) break;
      const prefix = `key:${base}\u0000${topic}\u0000${key}\u0000`;
      for await (const [k, value] of this.db.iterator({ gte: prefix, lt: `${prefix}g`, reverse: true, limit: maxCount - out.length + seen.size })) {
        const physicalOffset = Number.parseInt(k.slice(prefix.length), 16);
        if (seen.has(physicalOffset) || out.length >= maxCount) continue;
        out.push({ physicalOffset, size: Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(0) });
      }
    }
    return out;
  }

  /** Retention: drops the entries of a deleted segment. */
  async deleteSegment(baseOffset: number): Promise<void> {
    const base = offsetFileName(baseOffset);
    await this.db.clear({ gte: `${ID_KEY_PREFIX}${base}\u0000`, lt: `${ID_KEY_PREFIX}${base}\u0001` });
    await this.db.clear({ gte: `${ID_RUN_KEY_PREFIX}${base}\u0000`, lt: `${ID_RUN_KEY_PREFIX}${base}\u0001` });
    this.spans.deleteSegment(base);
    await this.db.clear({ gte: `${ID_SPAN_KEY_PREFIX}${base}\u0000`, lt: `${ID_SPAN_KEY_PREFIX}${base}\u0001` });
    await this.db.clear({ gte: `key:${base}\u0000`, lt: `key:${base}\u0001` });
  }
}
