// Several queues' sends to one broker in one SendStream frame (docs/client.md "Producer",
// docs/wire.md "Several queues in one frame"). Every send RPC of a producer is handed here, already
// encoded. A sendBatch goes at once, alone: grouping the batches of a window made them travel in
// lock-step, one big frame at a time, and cut batched produce at the same CPU per message
// (docs/performance.md, track send-multi). The coalesced RPCs of single sends to one broker
// address that are handed in during one turn of the event loop leave together at its end
// (setImmediate: after the answers of that turn, which free the coalescer's lanes, were handled):
// one alone as the plain frame (or unary call) it always was, several as one frame carrying a
// sub-request per send, cut at SEND_FRAME_REQUESTS_MAX sends and SEND_FRAME_BYTES_MAX bytes
// (groupIntoFrames). The broker serves each sub-request as its own Send, all issued in the same
// tick (their appends share a group commit and a replication chunk), and answers once; each
// send gets its own response or error back, so the producer's per-queue results and retries do
// not change. A broker that predates `requests` answers such a frame with INVALID_ARGUMENT having
// served none of it: the sends go again one frame each, and that address gets plain frames from
// then on. Measured effect: docs/performance.md, track send-multi.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { fromErrorDetail, type ClientMethod } from '../../common/grpc.js';
import { encodeMultiRequestFrame, SEND_FRAME_REQUESTS_MAX } from '../../common/stream-frames.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import type { BrokerConnections } from '../transport/broker-connections.js';
import type { AnswerFrame, StreamMuxMethod } from '../transport/stream-mux.js';

/**
 * Most request bytes in one multi-send frame: a frame is read, decoded and held whole by the
 * broker, and it delays the other frames of its stream while it is written. 4 MiB is two orders
 * under the gRPC message limit (GRPC_MESSAGE_BYTES_MAX) and holds 8 queues' coalesced RPCs of
 * ~500 KB each; a send larger than this alone goes in a frame of its own.
 */
export const SEND_FRAME_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Splits sends of `sizes` bytes, in order, into frames: the length of each frame, in order. A
 * frame holds at most `requestsMax` sends and at most `bytesMax` bytes, except that a send larger
 * than `bytesMax` by itself is a frame of its own. Pure.
 */
export function groupIntoFrames(sizes: readonly number[], requestsMax: number = SEND_FRAME_REQUESTS_MAX, bytesMax: number = SEND_FRAME_BYTES_MAX): number[] {
  if (!Number.isInteger(requestsMax) || requestsMax < 1) throw new Error(`assertion failed: requestsMax ${requestsMax}`);
  const frames: number[] = [];
  let count = 0;
  let bytes = 0;
  for (const size of sizes) {
    if (count > 0 && (count >= requestsMax || bytes + size > bytesMax)) {
      frames.push(count);
      count = 0;
      bytes = 0;
    }
    count++;
    bytes += size;
  }
  if (count > 0) frames.push(count);
  return frames;
}

/** BrokerService.send with a request the producer encoded already (encodeSendRequest): the same bytes on the wire. */
const SEND_ENCODED_METHOD: ClientMethod<Uint8Array, conveyor.SendResponse> = {
  path: BrokerService.send.path,
  requestSerialize: (request) => (Buffer.isBuffer(request) ? request : Buffer.from(request.buffer, request.byteOffset, request.byteLength)),
  responseDeserialize: BrokerService.send.responseDeserialize,
};

/** The multi-send frame on SendStream: encoded SendRequests in `requests`, answered by `multi` (exported for tests). */
export const SEND_MULTI_STREAM_METHOD: StreamMuxMethod<readonly Uint8Array[], conveyor.ISendSubResult[]> = {
  path: BrokerService.sendStream.path,
  requestSerialize: () => {
    throw new Error('assertion failed: multi-send frames are written by frameSerialize');
  },
  frameSerialize: (id, timeoutMs, requests) => encodeMultiRequestFrame(id, timeoutMs, requests),
  responseDeserialize: (bytes) => {
    const frame = conveyor.SendStreamResponse.decode(bytes);
    const answer: AnswerFrame<conveyor.ISendSubResult[]> = { id: Number(frame.id) };
    if (frame.multi != null) answer.response = frame.multi.results;
    else if (frame.error != null) answer.error = frame.error;
    // A plain `response` to a multi frame is neither: the multiplexer fails it as INTERNAL.
    return answer;
  },
  cancels: false,
};

/** Addresses whose multi-send support is remembered; past it the memory starts over (a bug guard: brokers are few). */
const ADDRESS_MODES_MAX = 1_024;

interface Waiting {
  request: Uint8Array;
  deadlineMs: number;
  resolve: (response: conveyor.SendResponse) => void;
  reject: (err: unknown) => void;
}

interface SendFrameStats {
  /** Send RPCs handed in (one per queue's batch). */
  requests: number;
  /** Frames (or unary calls) they went out in. */
  frames: number;
}

export class SendFrames {
  private waiting = new Map<string, Waiting[]>();
  private scheduled = false;
  /** Per address: it answered a multi-send frame (`multi`), or it predates them (`single`). */
  private readonly modes = new Map<string, 'multi' | 'single'>();
  private readonly counters: SendFrameStats = { requests: 0, frames: 0 };

  constructor(private readonly connections: BrokerConnections) {}

  get stats(): SendFrameStats {
    return { ...this.counters };
  }

  /**
   * Sends one encoded SendRequest to `address` — with `shareFrame`, with the other such sends
   * handed in during this turn of the event loop; answers what a Send call to it would (its
   * response, or its ConveyorError).
   * Waiting sends are bounded by the callers' own windows (one per lane of the coalescer, one per
   * sendBatch in flight) and leave at the end of the turn.
   */
  send(address: string, request: Uint8Array, deadlineMs: number, shareFrame: boolean): Promise<conveyor.SendResponse> {
    return new Promise<conveyor.SendResponse>((resolve, reject) => {
      if (!shareFrame) {
        this.single(address, { request, deadlineMs, resolve, reject });
        return;
      }
      let list = this.waiting.get(address);
      if (list === undefined) {
        list = [];
        this.waiting.set(address, list);
      }
      list.push({ request, deadlineMs, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = new Map();
    for (const [address, list] of waiting) {
      if (list.length === 1 || this.modes.get(address) === 'single') {
        for (const w of list) this.single(address, w);
        continue;
      }
      let start = 0;
      for (const count of groupIntoFrames(list.map((w) => w.request.length))) {
        const frame = list.slice(start, start + count);
        start += count;
        if (frame.length === 1) this.single(address, frame[0]!);
        else this.multi(address, frame);
      }
    }
  }

  private single(address: string, w: Waiting): void {
    this.counters.requests++;
    this.counters.frames++;
    this.connections.call(address, SEND_ENCODED_METHOD, w.request, { deadlineMs: w.deadlineMs }).then(w.resolve, w.reject);
  }

  private multi(address: string, frame: Waiting[]): void {
    let deadlineMs = Number.POSITIVE_INFINITY;
    for (const w of frame) deadlineMs = Math.min(deadlineMs, w.deadlineMs);
    const requests = frame.map((w) => w.request);
    const sent = this.connections.streamCall(address, SEND_MULTI_STREAM_METHOD, requests, { deadlineMs }, () => Promise.reject(notServed(address)));
    this.counters.requests += frame.length;
    this.counters.frames++;
    sent.then(
      (results) => {
        if (results.length !== frame.length) {
          const err = new ConveyorError(ErrorCode.INTERNAL, `broker ${address} answered ${results.length} results for a frame of ${frame.length} sends`, { target: address });
          for (const w of frame) w.reject(err);
          return;
        }
        this.remember(address, 'multi');
        frame.forEach((w, i) => {
          const result = results[i]!;
          if (result.error != null) w.reject(fromErrorDetail(result.error, address, result.error));
          else if (result.response != null) w.resolve(result.response as conveyor.SendResponse);
          else w.reject(new ConveyorError(ErrorCode.INTERNAL, `broker ${address} answered send ${i} of a frame with neither a response nor an error`, { target: address }));
        });
      },
      (err: unknown) => {
        // Nothing of the frame was served: a broker before multi-send frames (INVALID_ARGUMENT,
        // "carries no request") or before streams. Send them again one by one, and from now on.
        if (this.modes.get(address) !== 'multi' && err instanceof ConveyorError && (err.code === ErrorCode.INVALID_ARGUMENT || err.fields.multiSendUnsupported === true)) {
          this.remember(address, 'single');
          this.counters.requests -= frame.length;
          for (const w of frame) this.single(address, w);
          return;
        }
        for (const w of frame) w.reject(err);
      },
    );
  }

  private remember(address: string, mode: 'multi' | 'single'): void {
    if (this.modes.get(address) === mode) return;
    if (this.modes.size >= ADDRESS_MODES_MAX) this.modes.clear();
    this.modes.set(address, mode);
  }
}

/** What a multi-send frame gets from a broker without SendStream: SendFrames then sends one by one. */
function notServed(address: string): ConveyorError {
  return new ConveyorError(ErrorCode.INTERNAL, `broker ${address} does not implement SendStream`, { target: address, multiSendUnsupported: true });
}
