// A compact, time-sliced Bloom filter of message ids: "was this id possibly added since T?".
// Pure: callers pass the store timestamps. The dedup window puts the ids it evicts from memory
// here, so a miss in memory goes to the store's index only when the filter says "maybe"
// (docs/broker.md "De-duplication").
//
// Ids are added to the newest slice; a slice is closed once it holds FILTER_SLICE_IDS_MAX ids, and
// dropped once its newest id is older than the caller's window. Past FILTER_SLICES_MAX slices the
// oldest is dropped early and the filter stops being complete for ids up to that slice's newest
// timestamp (`completeSinceMs`): the caller must then ask the store for every miss until that
// point leaves its window. No false negatives for ids added after `completeSinceMs`.
import { assert } from '../../common/errors.js';

/**
 * Ids per slice. With 16 bits and 8 hashes per id a full slice answers "maybe" for ~0.06 % of
 * absent ids. Large slices keep queries cheap: a query probes every live slice (a cache miss or
 * two each), so fewer, bigger slices cost less per message at high rates.
 */
const FILTER_SLICE_IDS_MAX = 1_048_576;
/** Bits per id of slice capacity: 16 → 16 Mi bits = 2 MiB per slice. */
const FILTER_BITS_PER_ID = 16;
/** Bit probes per id (double hashing of one 64-bit FNV-1a pair). */
const FILTER_HASHES = 8;
/**
 * Most slices kept: 16 × 2 MiB = 32 MiB, 16.8 M ids, i.e. a 120 s window stays complete up to
 * ~140,000 evicted ids/s, above what one broker takes, so a fast producer never overflows it and
 * sends every id to the store index. A query tests
 * every live slice, so the false-positive rate adds up: ≤ 16 × 0.06 % ≈ 1 % with every slice
 * full; slices are allocated only as evictions need them (none below ~1,667 msgs/s).
 */
const FILTER_SLICES_MAX = 16;

interface RecentIdFilterOptions {
  /** Ids per slice, a power of two (default FILTER_SLICE_IDS_MAX; smaller only in tests). */
  sliceIdsMax?: number;
  /** Most slices (default FILTER_SLICES_MAX). */
  slicesMax?: number;
}

interface Slice {
  readonly bits: Uint32Array;
  count: number;
  newestMs: number;
}

/** Two independent 32-bit FNV-1a hashes of a string's UTF-16 code units. */
function hashPair(id: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 15);
  }
  return [h1 >>> 0, (h2 | 1) >>> 0];
}

export class RecentIdFilter {
  private readonly slices: Slice[] = [];
  private completeSince = Number.NEGATIVE_INFINITY;
  private readonly sliceIdsMax: number;
  private readonly slicesMax: number;
  private readonly sliceMask: number;

  constructor(options: RecentIdFilterOptions = {}) {
    this.sliceIdsMax = options.sliceIdsMax ?? FILTER_SLICE_IDS_MAX;
    this.slicesMax = options.slicesMax ?? FILTER_SLICES_MAX;
    assert(this.sliceIdsMax >= 2 && (this.sliceIdsMax & (this.sliceIdsMax - 1)) === 0, 'filter sliceIdsMax must be a power of two');
    assert(this.slicesMax >= 1, 'filter slicesMax must be at least 1');
    this.sliceMask = this.sliceIdsMax * FILTER_BITS_PER_ID - 1;
  }

  /** Ids added at or after this store timestamp are never missed (see the file comment). */
  get completeSinceMs(): number {
    return this.completeSince;
  }

  get sliceCount(): number {
    return this.slices.length;
  }

  /** Adds an id stored at `storeTimestampMs`. */
  add(id: string, storeTimestampMs: number): void {
    let slice = this.slices[this.slices.length - 1];
    if (slice === undefined || slice.count >= this.sliceIdsMax) {
      slice = { bits: new Uint32Array((this.sliceMask + 1) / 32), count: 0, newestMs: storeTimestampMs };
      this.slices.push(slice);
      if (this.slices.length > this.slicesMax) {
        const dropped = this.slices.shift();
        if (dropped !== undefined) this.completeSince = Math.max(this.completeSince, dropped.newestMs + 1);
      }
    }
    const [h1, h2] = hashPair(id);
    for (let k = 0; k < FILTER_HASHES; k++) {
      const bit = (h1 + Math.imul(k, h2)) & this.sliceMask;
      slice.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
    slice.count++;
    slice.newestMs = Math.max(slice.newestMs, storeTimestampMs);
  }

  /** False: `id` was not added at or after `sinceMs` (if sinceMs ≥ completeSinceMs). True: maybe. */
  mightContain(id: string, sinceMs: number): boolean {
    const [h1, h2] = hashPair(id);
    for (let s = this.slices.length - 1; s >= 0; s--) {
      const slice = this.slices[s]!;
      if (slice.newestMs < sinceMs) break;
      let all = true;
      for (let k = 0; k < FILTER_HASHES && all; k++) {
        const bit = (h1 + Math.imul(k, h2)) & this.sliceMask;
        all = (slice.bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
      }
      if (all) return true;
    }
    return false;
  }

  /** Whether any id was added at or after `sinceMs` (ignoring the completeness point). */
  hasIdsSince(sinceMs: number): boolean {
    const newest = this.slices[this.slices.length - 1];
    return newest !== undefined && newest.newestMs >= sinceMs;
  }

  /** Drops the slices whose every id is older than `sinceMs`. */
  expire(sinceMs: number): void {
    while (this.slices.length > 1 && this.slices[0]!.newestMs < sinceMs) this.slices.shift();
    const only = this.slices[0];
    if (this.slices.length === 1 && only !== undefined && only.newestMs < sinceMs) this.slices.length = 0;
  }
}
