// The requests of one multiplexed stream waiting for their answers (stream-mux.ts): id allocation,
// a bounded map by id, and deadline expiry by sweeping (no timer per request). Pure: no I/O, no
// clock of its own; the shell passes the time in.
import { assert } from '../../common/errors.js';
import { FRAME_ID_MAX } from '../../common/stream-frames.js';

/**
 * Requests waiting on one stream. A producer has at most one send per (topic, queue) in flight
 * and a consumer one pull per queue, so real use stays in the tens; the bound keeps a runaway
 * caller from growing the map (and the broker's work) without limit: above it a request fails at
 * once (stream-mux.ts) instead of queueing.
 */
export const STREAM_PENDING_REQUESTS_MAX = 4_096;

export interface PendingRequest<Res> {
  resolve(value: Res): void;
  reject(err: unknown): void;
  /** When the request gives up, in the caller's clock (ms). */
  deadlineAtMs: number;
  /** Called once the request leaves the map, however it ends (e.g. removes an abort listener). */
  cleanup?: () => void;
}

export class PendingRequests<Res> {
  private readonly entries = new Map<number, PendingRequest<Res>>();
  private nextId = 1;
  /** No entry expires before this; may be earlier than the true earliest (entries left since), never later. */
  private earliestDeadlineMs = Number.POSITIVE_INFINITY;

  constructor(readonly max: number = STREAM_PENDING_REQUESTS_MAX) {
    assert(Number.isInteger(max) && max > 0, `pending request bound must be a positive integer, got ${max}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get isFull(): boolean {
    return this.entries.size >= this.max;
  }

  /** Adds a request and returns its id: increasing, never 0, never one in use. The caller checks isFull first. */
  add(entry: PendingRequest<Res>): number {
    assert(!this.isFull, `more than ${this.max} pending requests`);
    let id = this.nextId;
    while (this.entries.has(id)) id = id >= FRAME_ID_MAX ? 1 : id + 1;
    this.nextId = id >= FRAME_ID_MAX ? 1 : id + 1;
    this.entries.set(id, entry);
    if (entry.deadlineAtMs < this.earliestDeadlineMs) this.earliestDeadlineMs = entry.deadlineAtMs;
    return id;
  }

  /** Removes and returns request `id` (its answer came, or it was cancelled); undefined if it is gone. */
  take(id: number): PendingRequest<Res> | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id);
    entry.cleanup?.();
    return entry;
  }

  /** Removes and returns the requests whose deadline is at or before `nowMs`, with their ids. Cheap when none can have expired. */
  takeExpired(nowMs: number): Array<[number, PendingRequest<Res>]> {
    if (nowMs < this.earliestDeadlineMs) return [];
    const expired: Array<[number, PendingRequest<Res>]> = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.entries) {
      if (entry.deadlineAtMs <= nowMs) expired.push([id, entry]);
      else if (entry.deadlineAtMs < earliest) earliest = entry.deadlineAtMs;
    }
    for (const [id, entry] of expired) {
      this.entries.delete(id);
      entry.cleanup?.();
    }
    this.earliestDeadlineMs = earliest;
    return expired;
  }

  /** Removes and returns every request (the stream broke or the multiplexer closed). */
  takeAll(): Array<PendingRequest<Res>> {
    const all = [...this.entries.values()];
    this.entries.clear();
    this.earliestDeadlineMs = Number.POSITIVE_INFINITY;
    for (const entry of all) entry.cleanup?.();
    return all;
  }
}
