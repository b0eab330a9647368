// The message-id index's run entries: one level entry for a run of generator-format ids instead
// of one per id. Pure (no level calls; message-index.ts does the I/O).
//
//   idrun:<segmentBase 20>\0<first messageId>   u32 count | u64 first physicalOffset | u32 size × count
//
// A run is ≥ INDEX_RUN_IDS_MIN and ≤ INDEX_RUN_IDS_MAX records, consecutive in log order, whose
// ids are in the client generator's format (common/message-id.ts: 12 hex time | 12 hex instance |
// 8 hex counter), share their first 24 characters (time part and instance), have consecutive
// counters, and whose records are contiguous in one segment (each starts where the one before
// ends). So the k-th id of a run is exactly `first id[0..24) + hex8(first counter + k)`, stored at
// `first physicalOffset + sizes[0] + … + sizes[k-1]` with size `sizes[k]`. Every other id keeps
// its own `id:` entry. The key sorts a segment's runs by prefix and then by first counter (fixed
// width lowercase hex sorts numerically), so the runs that may hold an id are the keys from
// `prefix + hex8(counter - INDEX_RUN_IDS_MAX + 1)` to the id itself: one bounded reverse range.
import { assert } from '../../common/errors.js';
import { generatorCounter, generatorInstance, MESSAGE_ID_HEX_LENGTH } from '../../common/message-id.js';
import { INDEX_RUN_IDS_MAX, INDEX_RUN_IDS_MIN } from './store-limits.js';

export const ID_KEY_PREFIX = 'id:';
export const ID_RUN_KEY_PREFIX = 'idrun:';
/** Characters of a generator id shared by every id of a run: time part and instance. */
const RUN_PREFIX_CHARS = 24;
/** u32 count + u64 first physical offset. */
const RUN_VALUE_HEADER_BYTES = 12;
/** Most run entries one lookup range can hold when runs do not overlap (each has ≥ INDEX_RUN_IDS_MIN ids). */
export const RUN_LOOKUP_ENTRIES = Math.ceil(INDEX_RUN_IDS_MAX / INDEX_RUN_IDS_MIN) + 1;

export interface IndexLocation {
  physicalOffset: number;
  size: number;
}

/** Where to look for an id among a segment's run entries; undefined for ids that are never in a run. */
export interface RunQuery {
  readonly messageId: string;
  readonly instance: number;
  readonly counter: number;
  /** The smallest first counter of a run that can hold the id, as 8 hex digits, after the id's prefix. */
  readonly lowestFirstId: string;
}

export function runQueryOf(messageId: string): RunQuery | undefined {
  const instance = generatorInstance(messageId);
  const counter = instance < 0 ? -1 : generatorCounter(messageId);
  if (counter < 0) return undefined;
  const lowest = Math.max(0, counter - INDEX_RUN_IDS_MAX + 1);
  return { messageId, instance, counter, lowestFirstId: messageId.slice(0, RUN_PREFIX_CHARS) + hex8(lowest) };
}

/** The key range of one segment's runs that may hold the id (read it in reverse: newest first counter first). */
export function runKeyRange(segmentBaseName: string, query: RunQuery): { gte: string; lte: string } {
  return { gte: `${ID_RUN_KEY_PREFIX}${segmentBaseName}\u0000${query.lowestFirstId}`, lte: `${ID_RUN_KEY_PREFIX}${segmentBaseName}\u0000${query.messageId}` };
}

/** The location of the queried id in a run entry found in its range, or undefined when the run ends before it. */
export function locationInRun(key: string, value: Uint8Array, query: RunQuery): IndexLocation | undefined {
  const firstCounter = generatorCounter(key.slice(key.length - MESSAGE_ID_HEX_LENGTH));
  assert(firstCounter >= 0 && firstCounter <= query.counter, `message index run key out of its range: ${key}`);
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const count = buf.readUInt32BE(0);
  assert(buf.length === RUN_VALUE_HEADER_BYTES + 4 * count, `message index run entry of ${buf.length} bytes holds ${count} sizes`);
  const k = query.counter - firstCounter;
  if (k >= count) return undefined;
  let physicalOffset = buf.readUInt32BE(4) * 0x1_0000_0000 + buf.readUInt32BE(8);
  for (let i = 0; i < k; i++) physicalOffset += buf.readUInt32BE(RUN_VALUE_HEADER_BYTES + 4 * i);
  return { physicalOffset, size: buf.readUInt32BE(RUN_VALUE_HEADER_BYTES + 4 * k) };
}

function hex8(counter: number): string {
  return counter.toString(16).padStart(8, '0');
}

/** Where the index writer's entries go (a level chained batch). */
interface IndexPut {
  put(key: string, value: Uint8Array): void;
}

/**
 * Gathers the records of one level write, in log order, into run entries; ids in no run get
 * their `id:` entry. Each record's per-id value (u64 physical offset, u32 size) is at
 * `valueOffset` of one shared buffer, 12 bytes per record, in the order they are added.
 */
export class IdRunWriter {
  /** The current stretch: its ids and sizes (reused arrays), segment, first value offset. */
  private readonly ids: string[] = [];
  private readonly sizes: number[] = [];
  private baseName = '';
  private firstPhysicalOffset = 0;
  private firstValueOffset = 0;
  private nextPhysicalOffset = -1;
  private nextCounter = -1;
  runEntries = 0;
  idEntries = 0;

  /** `onRun` hears of every run entry written (its segment, generator instance and counters). */
  constructor(private readonly out: IndexPut, private readonly values: Buffer, private readonly onRun: (segmentBaseName: string, instance: number, first: number, last: number) => void) {}

  add(messageId: string, segmentBaseName: string, physicalOffset: number, size: number, valueOffset: number): void {
    if (this.ids.length > 0 && this.continues(messageId, segmentBaseName, physicalOffset)) {
      this.ids.push(messageId);
      this.sizes.push(size);
      this.nextPhysicalOffset = physicalOffset + size;
      this.nextCounter++;
      if (this.ids.length === INDEX_RUN_IDS_MAX) this.flush();
      return;
    }
    this.flush();
    if (messageId.length === 0) return;
    const counter = generatorInstance(messageId) < 0 ? -1 : generatorCounter(messageId);
    if (counter < 0) {
      this.out.put(`${ID_KEY_PREFIX}${segmentBaseName}\u0000${messageId}`, this.values.subarray(valueOffset, valueOffset + 12));
      this.idEntries++;
      return;
    }
    this.ids.push(messageId);
    this.sizes.push(size);
    this.baseName = segmentBaseName;
    this.firstPhysicalOffset = physicalOffset;
    this.firstValueOffset = valueOffset;
    this.nextPhysicalOffset = physicalOffset + size;
    this.nextCounter = counter + 1;
  }

  /** Ends the current stretch: one run entry if it is long enough, else an `id:` entry per id. */
  flush(): void {
    const count = this.ids.length;
    if (count === 0) return;
    if (count >= INDEX_RUN_IDS_MIN) {
      const value = Buffer.allocUnsafe(RUN_VALUE_HEADER_BYTES + 4 * count);
      value.writeUInt32BE(count, 0);
      value.writeUInt32BE(Math.floor(this.firstPhysicalOffset / 0x1_0000_0000), 4);
      value.writeUInt32BE(this.firstPhysicalOffset >>> 0, 8);
      for (let i = 0; i < count; i++) value.writeUInt32BE(this.sizes[i]!, RUN_VALUE_HEADER_BYTES + 4 * i);
      this.out.put(`${ID_RUN_KEY_PREFIX}${this.baseName}\u0000${this.ids[0]!}`, value);
      this.runEntries++;
      this.onRun(this.baseName, generatorInstance(this.ids[0]!), this.nextCounter - count, this.nextCounter - 1);
    } else {
      for (let i = 0; i < count; i++) {
        const v = this.firstValueOffset + 12 * i;
        this.out.put(`${ID_KEY_PREFIX}${this.baseName}\u0000${this.ids[i]!}`, this.values.subarray(v, v + 12));
      }
      this.idEntries += count;
    }
    this.ids.length = 0;
    this.sizes.length = 0;
  }

  /** Whether the record extends the current stretch: same segment, right after it, same prefix, next counter. */
  private continues(messageId: string, segmentBaseName: string, physicalOffset: number): boolean {
    if (physicalOffset !== this.nextPhysicalOffset || messageId.length !== MESSAGE_ID_HEX_LENGTH || segmentBaseName !== this.baseName) return false;
    const first = this.ids[0]!;
    for (let i = 0; i < RUN_PREFIX_CHARS; i++) if (messageId.charCodeAt(i) !== first.charCodeAt(i)) return false;
    return generatorCounter(messageId) === this.nextCounter;
  }
}
