// Runs of generator-format message ids, the per-batch half of send de-duplication. Pure.
//
// Ids our client generates are `12 hex time | 12 hex generator instance | 8 hex counter`
// (common/message-id.ts, which also parses them), and a batch of one producer is mostly a run of
// consecutive counters of one instance. A run (instance, first..last counter, store-time range, topic) stands for every id
// of that instance whose counter is in the range, whatever its time part: a query that falls in a
// live run is only a *possible* duplicate, confirmed by the store's message-id index. So a false
// positive (another time part, a counter in a gap merged over) costs a store lookup, never a fresh
// message. Runs of one instance are kept sorted by counter and never overlap; a batch of fresh
// ids costs a binary search, not a map operation per id.
//
// Bounds: at most `runsMax` runs. Past it, the oldest runs (by newest store time) are merged into
// a neighbour of the same instance and topic (a superset: more false positives, nothing missed);
// a run with no such neighbour is dropped and the runs stop being complete for ids stored up to
// its newest store time (`completeSinceMs`): the caller must then ask the store for every
// generator-format id until that point leaves the window.
import { assert } from '../../common/errors.js';
import { generatorCounter, generatorInstance, MESSAGE_ID_HEX_LENGTH, sameGeneratorInstance } from '../../common/message-id.js';

/**
 * Most runs kept (~100 bytes each, ~10 MiB). One producer at 100k msgs/s in batches of 128 makes
 * ~94k runs in a 2-minute window if none of them touch (two broker groups, so every other batch
 * goes elsewhere); touching runs merge into one.
 */
const ID_RUNS_MAX = 100_000;
/** Runs kept after an overflow: evicting down to 3/4 of the bound makes eviction rare (amortised). */
const ID_RUNS_AFTER_EVICTION = 0.75;
/** How often (store time) expired runs are swept: once a second is ≤ ID_RUNS_MAX steps per second. */
export const ID_RUNS_SWEEP_INTERVAL_MS = 1_000;

interface IdRun {
  first: number;
  last: number;
  /** null: runs of several topics merged (forgetTopic keeps it). */
  topic: string | null;
  oldestMs: number;
  newestMs: number;
}

export class IdRuns {
  private readonly byInstance = new Map<number, IdRun[]>();
  private count = 0;
  private completeSince = Number.NEGATIVE_INFINITY;
  private nextSweepMs = Number.NEGATIVE_INFINITY;
  /** The newest store time ever added (never lowered: `hasRunsSince` may say yes too often, never too rarely). */
  private newestMs = Number.NEGATIVE_INFINITY;
  readonly runsMax: number;

  constructor(runsMax = ID_RUNS_MAX) {
    assert(runsMax >= 1, 'id runs max must be at least 1');
    this.runsMax = runsMax;
  }

  get size(): number {
    return this.count;
  }

  /** Generator-format ids stored at or after this store time are never missed (see the file comment). */
  get completeSinceMs(): number {
    return this.completeSince;
  }

  /** Whether any run may hold an id stored at or after `sinceMs`. */
  hasRunsSince(sinceMs: number): boolean {
    return this.count > 0 && this.newestMs >= sinceMs;
  }

  /** Whether a run with an id stored at or after `sinceMs` holds a counter in [first, last] of `instance`. */
  intersects(instance: number, first: number, last: number, sinceMs: number): boolean {
    const runs = this.byInstance.get(instance);
    if (runs === undefined) return false;
    for (let k = lastStartingAtOrBefore(runs, last); k >= 0; k--) {
      const run = runs[k]!;
      if (run.last < first) return false;
      if (run.newestMs >= sinceMs) return true;
    }
    return false;
  }

  /**
   * The last counter of the highest run of `instance` if that run holds only `topic` and ends
   * before `counter` by at most `gapMax` (so add(tail + 1 … counter) extends it), else -1.
   */
  tailBefore(instance: number, counter: number, gapMax: number, topic: string): number {
    const runs = this.byInstance.get(instance);
    const tail = runs?.[runs.length - 1];
    return tail !== undefined && tail.topic === topic && tail.last < counter && counter - tail.last <= gapMax ? tail.last : -1;
  }

  /** Remembers the ids first..last of `instance`, stored in `topic` between oldestMs and newestMs. */
  add(instance: number, first: number, last: number, topic: string, oldestMs: number, newestMs: number): void {
    assert(first <= last, 'id run must not be empty');
    this.newestMs = Math.max(this.newestMs, newestMs);
    let runs = this.byInstance.get(instance);
    if (runs === undefined) {
      runs = [];
      this.byInstance.set(instance, runs);
    }
    const tail = runs[runs.length - 1];
    // The common case: the next run of a producer, after (or touching) everything it sent before.
    if (tail === undefined || tail.last < first - 1 || (tail.last === first - 1 && tail.topic !== topic)) {
      runs.push({ first, last, topic, oldestMs, newestMs });
      this.count++;
    } else if (tail.last === first - 1) {
      tail.last = last;
      tail.oldestMs = Math.min(tail.oldestMs, oldestMs);
      tail.newestMs = Math.max(tail.newestMs, newestMs);
    } else {
      this.insert(runs, { first, last, topic, oldestMs, newestMs });
    }
    if (this.count > this.runsMax) this.evict();
  }

  /** The general insert: merges every run the new one overlaps, and touching runs of its topic. */
  private insert(runs: IdRun[], run: IdRun): void {
    let lo = firstEndingAtOrAfter(runs, run.first - 1);
    let hi = lastStartingAtOrBefore(runs, run.last + 1);
    // A run that only touches (ends at first - 1, starts at last + 1) merges only if it is of the same topic.
    if (lo <= hi && runs[lo]!.last < run.first && runs[lo]!.topic !== run.topic) lo++;
    if (lo <= hi && runs[hi]!.first > run.last && runs[hi]!.topic !== run.topic) hi--;
    if (lo > hi) {
      runs.splice(lo, 0, run);
      this.count++;
      return;
    }
    for (let k = lo; k <= hi; k++) mergeInto(run, runs[k]!);
    runs.splice(lo, hi - lo + 1, run);
    this.count -= hi - lo;
  }

  /** Drops the runs whose every id is older than `sinceMs`, at most once per sweep interval of `nowMs`. */
  expire(sinceMs: number, nowMs: number): void {
    if (nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + ID_RUNS_SWEEP_INTERVAL_MS;
    this.removeWhere((run) => run.newestMs < sinceMs);
  }

  /** Forgets the runs of `topic` (topic deletion). Merged runs of several topics stay. */
  forgetTopic(topic: string): void {
    this.removeWhere((run) => run.topic === topic);
  }

  private removeWhere(drop: (run: IdRun) => boolean): void {
    for (const [instance, runs] of this.byInstance) {
      const kept = runs.filter((run) => !drop(run));
      this.count -= runs.length - kept.length;
      if (kept.length === 0) this.byInstance.delete(instance);
      else if (kept.length !== runs.length) this.byInstance.set(instance, kept);
    }
  }

  /** Past the bound: merges (or, without a same-topic neighbour, drops) the oldest runs. */
  private evict(): void {
    const target = Math.floor(this.runsMax * ID_RUNS_AFTER_EVICTION);
    const newest: number[] = [];
    for (const runs of this.byInstance.values()) for (const run of runs) newest.push(run.newestMs);
    newest.sort((a, b) => a - b);
    const cutoffMs = newest[Math.max(0, this.count - target - 1)]!;
    for (const [instance, runs] of this.byInstance) {
      const kept: IdRun[] = [];
      // An evicted run with no same-topic run before it: merged into the next run if that one has its topic, else dropped.
      let waiting: IdRun | undefined;
      for (const run of runs) {
        if (waiting !== undefined) {
          if (waiting.topic === run.topic) mergeInto(run, waiting);
          else this.drop(waiting);
          waiting = undefined;
        }
        if (run.newestMs > cutoffMs) {
          kept.push(run);
          continue;
        }
        const previous = kept[kept.length - 1];
        if (previous !== undefined && previous.topic === run.topic) mergeInto(previous, run);
        else waiting = run;
      }
      if (waiting !== undefined) this.drop(waiting);
      if (kept.length === 0) this.byInstance.delete(instance);
      else this.byInstance.set(instance, kept);
    }
    this.count = 0;
    for (const runs of this.byInstance.values()) this.count += runs.length;
  }

  private drop(run: IdRun): void {
    this.completeSince = Math.max(this.completeSince, run.newestMs + 1);
  }
}

/** Widens `into` to cover `run` too. */
function mergeInto(into: IdRun, run: IdRun): void {
  into.first = Math.min(into.first, run.first);
  into.last = Math.max(into.last, run.last);
  into.oldestMs = Math.min(into.oldestMs, run.oldestMs);
  into.newestMs = Math.max(into.newestMs, run.newestMs);
  if (into.topic !== run.topic) into.topic = null;
}

/** Index of the last run with first ≤ counter, or -1. */
function lastStartingAtOrBefore(runs: readonly IdRun[], counter: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  if (hi >= 0 && runs[hi]!.first <= counter) return hi;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]!.first <= counter) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

/** Index of the first run with last ≥ counter (runs.length if none). */
function firstEndingAtOrAfter(runs: readonly IdRun[], counter: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]!.last >= counter) hi = mid - 1;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Fewest consecutive ids of one generator kept as a run; shorter stretches are remembered one by
 * one. A run of one id costs as much as a map entry, and ids that only look generated (a random
 * 32-hex id) would otherwise fill the runs bound with runs of one.
 */
export const RUN_IDS_MIN = 8;

/** A batch's ids split into runs (consecutive counters of one generator) and the rest. */
export interface BatchRuns {
  /** Per run: its generator instance, first and last counter, and its ids' indexes start..end-1 in the batch. */
  readonly instances: readonly number[];
  readonly firsts: readonly number[];
  readonly lasts: readonly number[];
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Indexes of the ids in no run: other ids, and generator ids in stretches shorter than RUN_IDS_MIN. */
  readonly singles: readonly number[];
}

/** The split of a batch too short for a run, by its length (shared: single sends allocate nothing for it). */
const SINGLES_ONLY: readonly BatchRuns[] = Array.from({ length: RUN_IDS_MIN }, (_, count) =>
  Object.freeze({ instances: [], firsts: [], lasts: [], starts: [], ends: [], singles: Object.freeze(Array.from({ length: count }, (_, i) => i)) }),
);

/** Splits a batch's ids into runs; a counter that wraps to 0 starts a new run. */
export function splitIntoRuns(messages: ReadonlyArray<{ readonly messageId: string }>, runIdsMin = RUN_IDS_MIN): BatchRuns {
  return splitIdsIntoRuns(messages.length, (i) => messages[i]!.messageId, runIdsMin);
}

/** splitIntoRuns for `count` ids read through `idAt`. */
export function splitIdsIntoRuns(count: number, idAt: (index: number) => string, runIdsMin = RUN_IDS_MIN): BatchRuns {
  const short = count < runIdsMin && runIdsMin === RUN_IDS_MIN ? SINGLES_ONLY[count] : undefined;
  if (short !== undefined) return short;
  const split: MutableBatchRuns = { instances: [], firsts: [], lasts: [], starts: [], ends: [], singles: [] };
  // Plain locals, no closure over them: this loop runs once per id on the send path.
  let start = 0;
  let instance = -1;
  /** The previous id, if it was in generator format: the next one compares its instance part by characters (no parse, no allocation). */
  let previousId = '';
  let first = -1;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    const id = idAt(i);
    const sameInstance = instance >= 0 && id.length === MESSAGE_ID_HEX_LENGTH && sameGeneratorInstance(id, previousId);
    const idInstance = sameInstance ? instance : generatorInstance(id);
    const counter = idInstance < 0 ? -1 : generatorCounter(id);
    if (sameInstance && counter >= 0 && counter === previous + 1) {
      previous = counter;
      previousId = id;
      continue;
    }
    if (i > 0) closeStretch(split, instance, first, previous, start, i, runIdsMin);
    start = i;
    instance = counter < 0 ? -1 : idInstance;
    previousId = instance < 0 ? '' : id;
    first = counter;
    previous = counter;
  }
  if (count > 0) closeStretch(split, instance, first, previous, start, count, runIdsMin);
  return split;
}

interface MutableBatchRuns {
  instances: number[];
  firsts: number[];
  lasts: number[];
  starts: number[];
  ends: number[];
  singles: number[];
}

/** Ends the stretch start..end-1: a run if it is long enough and generated, else singles. */
function closeStretch(split: MutableBatchRuns, instance: number, first: number, last: number, start: number, end: number, runIdsMin: number): void {
  if (instance >= 0 && end - start >= runIdsMin) {
    split.instances.push(instance);
    split.firsts.push(first);
    split.lasts.push(last);
    split.starts.push(start);
    split.ends.push(end);
  } else {
    for (let k = start; k < end; k++) split.singles.push(k);
  }
}

/** Whether two runs of one batch share a counter of one generator (a possible repeat inside the batch). */
export function runsOverlap(split: BatchRuns): boolean {
  const { instances, firsts, lasts } = split;
  for (let a = 0; a < instances.length; a++) {
    for (let b = a + 1; b < instances.length; b++) {
      if (instances[a] === instances[b] && firsts[a]! <= lasts[b]! && firsts[b]! <= lasts[a]!) return true;
    }
  }
  return false;
}

/** The index in the batch of a generator id (instance, counter) if one of the batch's runs holds that counter, else -1. */
export function runIndexOf(split: BatchRuns, instance: number, counter: number): number {
  for (let r = 0; r < split.instances.length; r++) {
    if (split.instances[r] === instance && split.firsts[r]! <= counter && counter <= split.lasts[r]!) return split.starts[r]! + (counter - split.firsts[r]!);
  }
  return -1;
}

/** Whether one of the batch's runs shares a counter with first..last of `instance`. */
export function runsIntersect(split: BatchRuns, instance: number, first: number, last: number): boolean {
  for (let r = 0; r < split.instances.length; r++) {
    if (split.instances[r] === instance && split.firsts[r]! <= last && first <= split.lasts[r]!) return true;
  }
  return false;
}
