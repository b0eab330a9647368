// Many Send or Pull requests over one long-lived bidi stream (SendStream / PullStream, docs/wire.md
// "Streams") instead of one unary call each: a message each way on an open stream costs a fraction
// of a unary call's CPU in grpc-js (docs/performance.md, stream track). One StreamMux per
// (channel, method): it opens the stream on first use, numbers requests, matches answers by id in
// any order, times requests out with one sweep timer, and fails with exactly the ConveyorError a
// unary call would give (common/grpc.ts fromServiceError / fromErrorDetail), so retry decisions
// (retry-policy.ts) do not change. A broken stream fails every pending request as a broken unary
// call would (SERVICE_UNAVAILABLE, or the broker's code, e.g. SHUTTING_DOWN) and the next request
// opens a new one. A broker without the method (UNIMPLEMENTED: older than the streams) is
// remembered; requests then go to `fallback` (the unary call) or fail with isStreamUnsupported().
import * as grpc from '@grpc/grpc-js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { fromErrorDetail, fromServiceError } from '../../common/grpc.js';
import { encodeRequestFrame } from '../../common/stream-frames.js';
import { varintBytes, writeVarint } from '../../common/varint.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import { PendingRequests, STREAM_PENDING_REQUESTS_MAX, type PendingRequest } from './pending-requests.js';

/** How often pending requests are checked against their deadlines: a request times out at most this late. */
const STREAM_DEADLINE_SWEEP_MS = 50;
/** `timeout_ms` is a uint32 on the wire. */
const FRAME_TIMEOUT_MS_MAX = 0xffff_ffff;

/** An answer frame as decoded: the id and either the answer or the error. */
export interface AnswerFrame<Res> {
  id: number;
  response?: Res | null;
  error?: conveyor.IErrorDetail | null;
  /** PullStream: an answer of an open subscription; more may follow on `id`. */
  subscribed?: boolean | null;
}

/** One stream method seen from the client: how to encode the nested request, decode an answer frame. */
export interface StreamMuxMethod<Req, Res> {
  path: string;
  /** The nested SendRequest / PullRequest's bytes (the frame header is added around them). */
  requestSerialize(request: Req): Uint8Array;
  responseDeserialize(bytes: Buffer): AnswerFrame<Res>;
  /** The broker understands cancel frames (PullStream): a cancelled request stops holding there too. */
  cancels: boolean;
  /**
   * Writes the whole request frame itself (the producer's SendStream frames that carry several
   * queues' sends, client/producer/send-frames.ts); without it the frame is the header around
   * requestSerialize's bytes. A throw fails that request only.
   */
  frameSerialize?(id: number, timeoutMs: number, request: Req): Buffer;
}

/** SendStream with a given SendRequest encoder (the producer's one-buffer encoder, or the generated one). */
export function sendStreamMethod<Req>(requestSerialize: (request: Req) => Uint8Array): StreamMuxMethod<Req, conveyor.SendResponse> {
  return { path: BrokerService.sendStream.path, requestSerialize, responseDeserialize: (bytes) => conveyor.SendStreamResponse.decode(bytes) as AnswerFrame<conveyor.SendResponse>, cancels: false };
}

export const SEND_STREAM_METHOD = sendStreamMethod<conveyor.ISendRequest>((request) => conveyor.SendRequest.encode(request).finish());

export const PULL_STREAM_METHOD: StreamMuxMethod<conveyor.IPullRequest, conveyor.PullResponse> = {
  path: BrokerService.pullStream.path,
  requestSerialize: (request) => conveyor.PullRequest.encode(request).finish(),
  responseDeserialize: (bytes) => conveyor.PullStreamResponse.decode(bytes) as AnswerFrame<conveyor.PullResponse>,
  cancels: true,
};

interface StreamRequestOptions {
  deadlineMs: number;
  /** Aborting drops the request (and, on PullStream, tells the broker); it rejects with the error BrokerConnections gives a cancelled call. */
  signal?: AbortSignal;
}

/** What a subscription (subscribe()) reports. Neither is called after cancel(). */
export interface SubscriptionListener<Res> {
  /**
   * One answer. `open` false: the broker served the request as a plain pull (it predates
   * subscriptions, or the stream fell back to unary calls): this was the only answer.
   */
  answer(response: Res, open: boolean): void;
  /** The subscription ended with this error (the broker's answer, a broken stream, close()). */
  failed(err: ConveyorError): void;
}

/** An open subscription seen from the client. */
export interface MuxSubscription {
  /** Lets the broker send this many more messages (one small frame). */
  grant(messages: number): void;
  /** Ends it here and at the broker; answers still on the way are dropped. */
  cancel(): void;
}

/** PullStreamRequest field 5 (`subscribe_credit`), varint. */
const SUBSCRIBE_CREDIT_TAG = (5 << 3) | 0;

interface StreamMuxOptions<Req, Res> {
  /** The broker address, carried in errors as `target` (as callUnary does). */
  target?: string;
  pendingMax?: number;
  sweepIntervalMs?: number;
  /** Where requests go once the broker turned out not to implement the stream (UNIMPLEMENTED), e.g. the unary call. */
  fallback?: (request: Req, options: StreamRequestOptions) => Promise<Res>;
}

/** True for the error a request gets when the broker does not implement the stream method (and no fallback was given). */
export function isStreamUnsupported(err: unknown): boolean {
  return err instanceof ConveyorError && err.fields.streamUnsupported === true;
}

function cancelledError(target: string | undefined): ConveyorError {
  // The same shape as BrokerConnections' cancelled call (isCancelled() is true).
  return new ConveyorError(ErrorCode.SHUTTING_DOWN, `call to ${target ?? 'broker'} cancelled`, { target, cancelled: true });
}

interface Waiting<Req, Res> extends PendingRequest<Res> {
  request: Req;
  options: StreamRequestOptions;
}

export class StreamMux<Req, Res> {
  private readonly pending: PendingRequests<Res>;
  private stream: grpc.ClientDuplexStream<Buffer, AnswerFrame<Res>> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private unsupportedError: ConveyorError | undefined;
  /** Open subscriptions by id (each also in `pending`, with no deadline, so a broken stream fails it). */
  private readonly subscriptions = new Map<number, SubscriptionListener<Res>>();
  private subscriptionsRefusedFlag = false;

  constructor(
    private readonly client: grpc.Client,
    private readonly method: StreamMuxMethod<Req, Res>,
    private readonly options: StreamMuxOptions<Req, Res> = {},
  ) {
    this.pending = new PendingRequests<Res>(options.pendingMax ?? STREAM_PENDING_REQUESTS_MAX);
  }

  /** Requests waiting for an answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** The broker answered the stream with UNIMPLEMENTED: it predates the streams. */
  get unsupported(): boolean {
    return this.unsupportedError !== undefined;
  }

  request(request: Req, options: StreamRequestOptions): Promise<Res> {
    const { target } = this.options;
    if (this.closed) return Promise.reject(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the client is shut down', { target }));
    if (this.unsupportedError !== undefined) return this.options.fallback?.(request, options) ?? Promise.reject(this.unsupportedError);
    if (options.signal?.aborted) return Promise.reject(cancelledError(target));
    if (this.pending.isFull) {
      return Promise.reject(new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `more than ${this.pending.max} requests waiting on one ${this.method.path} stream to ${target ?? 'the broker'}`, { target, pendingMax: this.pending.max }));
    }
    const frameSerialize = this.method.frameSerialize;
    let nested: Uint8Array | undefined;
    try {
      if (frameSerialize === undefined) nested = this.method.requestSerialize(request);
    } catch (err) {
      return Promise.reject(err);
    }
    let stream: grpc.ClientDuplexStream<Buffer, AnswerFrame<Res>>;
    try {
      stream = this.open();
    } catch (err) {
      return Promise.reject(fromServiceError(err, target)); // e.g. the channel was closed under us
    }
    return new Promise<Res>((resolve, reject) => {
      const entry: Waiting<Req, Res> = { resolve, reject, deadlineAtMs: Date.now() + options.deadlineMs, request, options };
      const id = this.pending.add(entry);
      const timeoutMs = Math.min(Math.max(0, Math.ceil(options.deadlineMs)), FRAME_TIMEOUT_MS_MAX);
      let frame: Buffer;
      try {
        frame = frameSerialize === undefined ? encodeRequestFrame(id, timeoutMs, nested as Uint8Array) : frameSerialize(id, timeoutMs, request);
      } catch (err) {
        this.pending.take(id);
        reject(err);
        return;
      }
      const signal = options.signal;
      if (signal !== undefined) {
        const onAbort = (): void => this.abort(id);
        signal.addEventListener('abort', onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      stream.write(frame);
    });
  }

  /** The broker answered a subscription as a plain pull: it predates them (pull instead). */
  get subscriptionsRefused(): boolean {
    return this.subscriptionsRefusedFlag;
  }

  /**
   * Opens a subscription (PullStream: docs/wire.md "Pull subscriptions"): `request` is sent once
   * with `credit`; the broker answers on its id whenever records land, within the credit granted.
   * `deadlineMs` bounds only a broker that serves it as a plain pull. Errors (including a full
   * stream or a closed multiplexer) reach `listener.failed`, after this returns.
   */
  subscribe(request: Req, credit: number, deadlineMs: number, listener: SubscriptionListener<Res>): MuxSubscription {
    let id = 0;
    const ended = (): void => {
      this.subscriptions.delete(id);
    };
    const entry: Waiting<Req, Res> = {
      resolve: (response) => {
        ended();
        listener.answer(response, false);
      },
      reject: (err) => {
        ended();
        listener.failed(err instanceof ConveyorError ? err : new ConveyorError(ErrorCode.INTERNAL, String(err), { target: this.options.target }));
      },
      deadlineAtMs: Number.POSITIVE_INFINITY,
      request,
      options: { deadlineMs },
    };
    const handle: MuxSubscription = {
      grant: (messages) => {
        if (this.subscriptions.get(id) !== listener || this.stream === undefined) return;
        const frame = conveyor.PullStreamRequest.encode({ id, subscribeCredit: messages }).finish();
        this.stream.write(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      },
      cancel: () => {
        if (this.subscriptions.get(id) !== listener) return;
        this.subscriptions.delete(id);
        this.pending.take(id);
        if (this.stream !== undefined) {
          const frame = conveyor.PullStreamRequest.encode({ id, cancel: true }).finish();
          this.stream.write(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
        }
      },
    };
    const fail = (err: unknown): MuxSubscription => {
      queueMicrotask(() => entry.reject(err));
      return handle;
    };
    const { target } = this.options;
    if (this.closed) return fail(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the client is shut down', { target }));
    if (this.unsupportedError !== undefined) return fail(this.unsupportedError);
    if (this.pending.isFull) return fail(new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `more than ${this.pending.max} requests waiting on one ${this.method.path} stream to ${target ?? 'the broker'}`, { target, pendingMax: this.pending.max }));
    let frame: Buffer;
    let stream: grpc.ClientDuplexStream<Buffer, AnswerFrame<Res>>;
    try {
      const nested = this.method.requestSerialize(request);
      stream = this.open();
      id = this.pending.add(entry);
      const plain = encodeRequestFrame(id, Math.min(Math.max(0, Math.ceil(deadlineMs)), FRAME_TIMEOUT_MS_MAX), nested);
      frame = Buffer.allocUnsafe(plain.length + 1 + varintBytes(credit));
      frame.set(plain, 0);
      frame[plain.length] = SUBSCRIBE_CREDIT_TAG;
      writeVarint(frame, plain.length + 1, credit);
    } catch (err) {
      if (id !== 0) this.pending.take(id);
      return fail(err instanceof ConveyorError ? err : fromServiceError(err, target));
    }
    this.subscriptions.set(id, listener);
    stream.write(frame);
    return handle;
  }

  /** Ends the stream; pending requests fail with SHUTTING_DOWN, later ones at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    this.detach();
    this.failAll(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the client is shut down', { target: this.options.target }));
    stream?.cancel();
  }

  private open(): grpc.ClientDuplexStream<Buffer, AnswerFrame<Res>> {
    if (this.stream !== undefined) return this.stream;
    const stream = this.client.makeBidiStreamRequest<Buffer, AnswerFrame<Res>>(this.method.path, (frame) => frame, (bytes) => this.method.responseDeserialize(bytes));
    stream.on('data', (frame: AnswerFrame<Res>) => this.answer(frame));
    stream.on('status', (status: grpc.StatusObject) => {
      if (this.stream === stream) this.broken(status);
    });
    // Every end is handled through 'status'; the listener keeps a non-OK end from being unhandled.
    stream.on('error', () => undefined);
    this.stream = stream;
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepIntervalMs ?? STREAM_DEADLINE_SWEEP_MS);
    this.sweeper.unref();
    return stream;
  }

  private detach(): void {
    this.stream = undefined;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private answer(frame: AnswerFrame<Res>): void {
    const subscription = this.subscriptions.get(frame.id);
    if (subscription !== undefined) {
      if (frame.subscribed === true && frame.response != null) return subscription.answer(frame.response, true);
      if (frame.response != null) this.subscriptionsRefusedFlag = true;
    }
    const entry = this.pending.take(frame.id);
    if (entry === undefined) return; // timed out or cancelled meanwhile: the answer is dropped
    if (frame.error != null) entry.reject(fromErrorDetail(frame.error, this.options.target, frame.error));
    else if (frame.response != null) entry.resolve(frame.response);
    else entry.reject(new ConveyorError(ErrorCode.INTERNAL, `answer ${frame.id} on ${this.method.path} carries neither a response nor an error`, { target: this.options.target }));
  }

  /** The stream ended (any status): every pending request fails as its unary call would have. */
  private broken(status: grpc.StatusObject): void {
    this.detach();
    if (status.code === grpc.status.UNIMPLEMENTED) {
      this.unsupportedError = new ConveyorError(ErrorCode.INTERNAL, `the broker ${this.options.target ?? ''} does not implement ${this.method.path}: ${status.details}`, { target: this.options.target, grpcStatus: status.code, streamUnsupported: true });
      const fallback = this.options.fallback;
      if (fallback !== undefined) {
        // The broker refused the stream before reading any frame: nothing was served, so the
        // requests go to the fallback as they are, with what is left of their deadlines.
        const now = Date.now();
        for (const entry of this.pending.takeAll() as Array<Waiting<Req, Res>>) {
          fallback(entry.request, { ...entry.options, deadlineMs: Math.min(Math.max(0, entry.deadlineAtMs - now), entry.options.deadlineMs) }).then(entry.resolve, entry.reject);
        }
        return;
      }
      this.failAll(this.unsupportedError);
      return;
    }
    const cause = status.code === grpc.status.OK
      ? { code: grpc.status.UNAVAILABLE, details: `the broker ended the ${this.method.path} stream`, metadata: status.metadata }
      : status;
    this.failAll(fromServiceError(cause, this.options.target));
  }

  private failAll(err: ConveyorError): void {
    for (const entry of this.pending.takeAll()) entry.reject(err);
  }

  private abort(id: number): void {
    const entry = this.pending.take(id);
    if (entry === undefined) return;
    entry.reject(cancelledError(this.options.target));
    if (this.method.cancels && this.stream !== undefined) {
      const frame = conveyor.PullStreamRequest.encode({ id, cancel: true }).finish();
      this.stream.write(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    }
  }

  private sweep(): void {
    const expired = this.pending.takeExpired(Date.now());
    for (const [, entry] of expired) {
      entry.reject(fromServiceError({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: new grpc.Metadata() }, this.options.target));
    }
  }
}
