// Coalesces concurrent single sends to one (broker, topic, queue) into batch RPCs, without a
// timer: while a lane has fewer than `rpcsInFlightMax` RPCs in flight (default 1), a send goes out
// at the end of the current tick (a microtask), so sends issued in the same tick share its RPC;
// sends issued while the lane is full gather and go together as soon as one of its RPCs returns. A batch is cut at COALESCE_MESSAGES_MAX messages or
// COALESCE_BYTES_MAX bytes (then it goes at once, a second RPC in flight). Each message keeps its
// own id, result and error: a failed batch fails every message in it, and each caller retries on
// its own (same ids, so the broker de-duplicates) — docs/client.md / docs/performance.md.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { BATCH_BYTES_MAX, BATCH_MESSAGE_COUNT_MAX } from '../../common/limits.js';

/** Most messages coalesced into one RPC: the broker's batch count limit. */
export const COALESCE_MESSAGES_MAX = BATCH_MESSAGE_COUNT_MAX;
/** Default RPCs in flight per lane: batches grow with the round trip (the throughput setting). */
export const COALESCE_RPCS_IN_FLIGHT_DEFAULT = 1;
/** Most RPCs in flight per lane that may be asked for (Kafka bounds its per-connection requests at 5). */
export const COALESCE_RPCS_IN_FLIGHT_MAX = 16;
/** Most record bytes coalesced into one RPC: 4 MiB, well under BATCH_BYTES_MAX and gRPC's message limits. */
const COALESCE_BYTES_MAX = Math.min(4 * 1024 * 1024, BATCH_BYTES_MAX);

interface Waiting<M, R> {
  message: M;
  bytes: number;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

interface Lane<M, R> {
  waiting: Waiting<M, R>[];
  waitingBytes: number;
  inFlight: number;
  scheduled: boolean;
  run: (messages: M[]) => Promise<R[]>;
}

export class SendCoalescer<M, R> {
  private readonly lanes = new Map<string, Lane<M, R>>();

  /**
   * `rpcsInFlightMax`: RPCs one lane may have in flight at once (1 … COALESCE_RPCS_IN_FLIGHT_MAX).
   * `form`: called with each batch as it is formed, just before its `run` (the producer gives
   * generated message ids there, so the ids of one RPC are consecutive).
   */
  constructor(readonly rpcsInFlightMax: number = COALESCE_RPCS_IN_FLIGHT_DEFAULT, private readonly form?: (messages: M[]) => void) {
    if (!Number.isInteger(rpcsInFlightMax) || rpcsInFlightMax < 1 || rpcsInFlightMax > COALESCE_RPCS_IN_FLIGHT_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `RPCs in flight per queue must be an integer from 1 to ${COALESCE_RPCS_IN_FLIGHT_MAX}, got ${String(rpcsInFlightMax)}`, { value: rpcsInFlightMax });
    }
  }

  /** Lanes with sends gathering or in flight (for tests and stats). */
  get laneCount(): number {
    return this.lanes.size;
  }

  /**
   * Sends `message` (record size `bytes`) on lane `key` with the lane's next batch; `run` sends one
   * batch and answers one result per message in order (the first caller's `run` serves the lane
   * while it exists, so every caller of a key must pass an equivalent one).
   */
  submit(key: string, message: M, bytes: number, run: (messages: M[]) => Promise<R[]>): Promise<R> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { waiting: [], waitingBytes: 0, inFlight: 0, scheduled: false, run };
      this.lanes.set(key, lane);
    }
    const owner = lane;
    return new Promise<R>((resolve, reject) => {
      if (owner.waiting.length > 0 && owner.waitingBytes + bytes > COALESCE_BYTES_MAX) this.flush(key, owner);
      owner.waiting.push({ message, bytes, resolve, reject });
      owner.waitingBytes += bytes;
      if (owner.waiting.length >= COALESCE_MESSAGES_MAX) this.flush(key, owner);
      else if (owner.inFlight < this.rpcsInFlightMax && !owner.scheduled) {
        owner.scheduled = true;
        queueMicrotask(() => {
          owner.scheduled = false;
          if (owner.inFlight < this.rpcsInFlightMax) this.flush(key, owner);
        });
      }
    });
  }

  private flush(key: string, lane: Lane<M, R>): void {
    const batch = lane.waiting;
    if (batch.length === 0) return;
    lane.waiting = [];
    lane.waitingBytes = 0;
    lane.inFlight++;
    let sent: Promise<R[]>;
    try {
      const messages = batch.map((w) => w.message);
      this.form?.(messages);
      sent = lane.run(messages);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (results) => {
        if (results.length !== batch.length) {
          const err = new Error(`assertion failed: ${results.length} results for ${batch.length} coalesced messages`);
          for (const w of batch) w.reject(err);
          return;
        }
        batch.forEach((w, i) => w.resolve(results[i]!));
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    ).finally(() => {
      lane.inFlight--;
      if (lane.waiting.length > 0) this.flush(key, lane);
      else if (lane.inFlight === 0 && !lane.scheduled && this.lanes.get(key) === lane) this.lanes.delete(key);
    });
  }
}
