// Which segments' run entries can hold a generator id: per segment, per generator instance, the
// lowest and highest counter of its run entries (id-run-index.ts). A lookup then opens a level
// iterator only for the segments whose span of the id's instance holds its counter — usually one —
// instead of one per live segment. Pure; message-index.ts persists the spans in the same level
// batch as the run entries they cover and loads them at open:
//
//   idspan:<segmentBase 20>\0<instance 12 hex>   u32 lowest counter | u32 highest counter
//   idspan:<segmentBase 20>\0*                   (empty) more instances than INDEX_RUN_SPANS_PER_SEGMENT_MAX: search always
//
// Spans only widen (a superset: a segment searched for nothing, never one skipped that holds the id).
import { INDEX_RUN_SPANS_PER_SEGMENT_MAX } from './store-limits.js';

export const ID_SPAN_KEY_PREFIX = 'idspan:';
const EVERY_INSTANCE = '*';
const INSTANCE_HEX_DIGITS = 12;

export class IdRunSpans {
  /** Segment base name → instance → [lowest, highest] counter. */
  private readonly bySegment = new Map<string, Map<number, [number, number]>>();
  /** Segments with too many instances to list: every generator lookup searches them. */
  private readonly everyInstance = new Set<string>();
  /** Spans widened since the last takeChanged(), as level keys. */
  private readonly changed = new Set<string>();

  /** Widens the span of `instance` in a segment to hold first..last. */
  add(segmentBaseName: string, instance: number, first: number, last: number): void {
    if (this.everyInstance.has(segmentBaseName)) return;
    let spans = this.bySegment.get(segmentBaseName);
    if (spans === undefined) {
      spans = new Map();
      this.bySegment.set(segmentBaseName, spans);
    }
    const span = spans.get(instance);
    if (span === undefined) {
      if (spans.size >= INDEX_RUN_SPANS_PER_SEGMENT_MAX) {
        this.bySegment.delete(segmentBaseName);
        this.everyInstance.add(segmentBaseName);
        this.changed.add(spanKey(segmentBaseName, EVERY_INSTANCE));
        return;
      }
      spans.set(instance, [first, last]);
    } else if (first < span[0] || last > span[1]) {
      span[0] = Math.min(span[0], first);
      span[1] = Math.max(span[1], last);
    } else {
      return;
    }
    this.changed.add(spanKey(segmentBaseName, instanceHex(instance)));
  }

  /** The level puts that persist every span widened since the last call (all of them go into the batch of the run entries). */
  takeChanged(put: (key: string, value: Uint8Array) => void): void {
    for (const key of this.changed) {
      const separator = key.indexOf('\u0000');
      const segmentBaseName = key.slice(ID_SPAN_KEY_PREFIX.length, separator);
      const instancePart = key.slice(separator + 1);
      if (instancePart === EVERY_INSTANCE) {
        put(key, new Uint8Array(0));
        continue;
      }
      const span = this.bySegment.get(segmentBaseName)?.get(Number.parseInt(instancePart, 16));
      if (span === undefined) continue; // the segment went to "every instance" after this span changed
      const value = Buffer.allocUnsafe(8);
      value.writeUInt32BE(span[0], 0);
      value.writeUInt32BE(span[1], 4);
      put(key, value);
    }
    this.changed.clear();
  }

  /** A persisted span (at open). */
  load(key: string, value: Uint8Array): void {
    const separator = key.indexOf('\u0000');
    const segmentBaseName = key.slice(ID_SPAN_KEY_PREFIX.length, separator);
    const instancePart = key.slice(separator + 1);
    if (instancePart === EVERY_INSTANCE) {
      this.bySegment.delete(segmentBaseName);
      this.everyInstance.add(segmentBaseName);
      return;
    }
    const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    this.add(segmentBaseName, Number.parseInt(instancePart, 16), buf.readUInt32BE(0), buf.readUInt32BE(4));
    this.changed.clear();
  }

  /** The segments (of those given, in their order) whose run entries can hold this counter of this instance. */
  segmentsHolding(segmentBaseNames: readonly string[], instance: number, counter: number): string[] {
    const out: string[] = [];
    for (const name of segmentBaseNames) {
      if (this.everyInstance.has(name)) {
        out.push(name);
        continue;
      }
      const span = this.bySegment.get(name)?.get(instance);
      if (span !== undefined && span[0] <= counter && counter <= span[1]) out.push(name);
    }
    return out;
  }

  deleteSegment(segmentBaseName: string): void {
    this.bySegment.delete(segmentBaseName);
    this.everyInstance.delete(segmentBaseName);
  }
}

function spanKey(segmentBaseName: string, instancePart: string): string {
  return `${ID_SPAN_KEY_PREFIX}${segmentBaseName}\u0000${instancePart}`;
}

function instanceHex(instance: number): string {
  return instance.toString(16).padStart(INSTANCE_HEX_DIGITS, '0');
}
