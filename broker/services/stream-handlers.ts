// SendStream and PullStream (docs/wire.md "Streams"): many Send / Pull requests on one long-lived
// bidi stream, each frame carrying a correlation id, answered in whatever order they finish (a
// long poll on one queue holds up nothing else). Each frame runs the same service code as the
// unary call (services.send.send / services.pull.pull, given a FrameCall for its deadline and
// cancellation), through the same RequestRunner (gate, metrics, error log) and the same error
// mapping (common/grpc.ts toErrorDetail). On shutdown new frames get SHUTTING_DOWN, frames in
// flight finish, then the stream ends with SHUTTING_DOWN.
import type * as grpc from '@grpc/grpc-js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { toErrorDetail, toServiceError } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';
import { conveyor } from '../../proto/index.js';
import { FrameCall, frameDeadline } from './frame-call.js';
import type { BrokerServices } from './broker-services.js';
import type { RequestGate, RequestRunner } from './request-runner.js';
import { openPullSubscription, PULL_SUBSCRIPTIONS_PER_STREAM_MAX, type SubscriptionHandle } from './pull-subscription.js';
import { malformedReason } from './stream-codecs.js';
import { sendRequestsOf, serveSends } from './send-multi.js';

/**
 * Requests of one stream being served at once. Above it the broker stops reading the stream, so
 * HTTP/2 flow control holds the client back instead of frames piling up here. A producer has at
 * most one send per (topic, queue) in flight and a consumer one pull per queue, far below this; it
 * bounds a misbehaving client to the memory of this many requests.
 */
const STREAM_FRAMES_IN_FLIGHT_MAX = 1_024;

/** A request frame of either stream, as decoded. */
interface RequestFrame<Req> {
  id: number;
  timeoutMs: number;
  request?: Req | null;
  cancel?: boolean;
  /** PullStream: with a request, open a subscription with this credit; without, a top-up (pull-subscription.ts). */
  subscribeCredit?: number;
}

interface ResponseFrame<Res> {
  id: number;
  response?: Res;
  error?: conveyor.IErrorDetail;
  /** SendStream: the answer to a frame carrying several queues' sends (send-multi.ts). */
  multi?: conveyor.ISendMultiResponse;
  /** An answer of an open subscription: more may follow on this id. */
  subscribed?: boolean;
}

interface StreamSpec<Req, Res> {
  /** The metrics label: the same as the unary method's, since the work is the same. */
  method: string;
  /** The nested request, if the frame carries one of the right type. */
  requestOf(frame: RequestFrame<unknown>): Req | undefined;
  serve(request: Req, call: FrameCall<Req>): Promise<Res>;
  /** Cancel frames are understood (PullStream: a held pull can be stopped). */
  cancels: boolean;
  /** Called once grpc-js has taken an answer's bytes (its write's callback ran): its buffer may be reused. */
  written?(response: Res): void;
  /** SendStream: the sends of a frame that carries several queues' (send-multi.ts); undefined for a plain frame. */
  requestsOf?(frame: RequestFrame<unknown>): Req[] | undefined;
  /** Serves such a frame's sends (each through `run` itself) and answers them in one frame. */
  serveMany?(requests: Req[], run: RequestRunner, call: FrameCall<Req>): Promise<conveyor.ISendMultiResponse>;
  /** PullStream: a request that stays open and answers many times (pull-subscription.ts). */
  subscribe?(request: Req, call: FrameCall<Req>, credit: number, emit: (response: Res) => void): SubscriptionHandle;
}

interface StreamDeps {
  gate: RequestGate;
  run: RequestRunner;
  log: Logger;
  framesInFlightMax: number;
}

function invalidFrame(message: string, fields: Record<string, string | number>): ConveyorError {
  return new ConveyorError(ErrorCode.INVALID_ARGUMENT, message, fields);
}

/** Serves one stream until the client ends it (after its last answer), cancels it, or shutdown drains it. */
function serveStream<Req, Res>(call: grpc.ServerDuplexStream<RequestFrame<unknown>, ResponseFrame<Res>>, spec: StreamSpec<Req, Res>, deps: StreamDeps): void {
  const inFlight = new Map<number, FrameCall<Req>>();
  /** Open subscriptions by id; each is also in inFlight (cancel, shutdown and the flow bound see it). */
  const subscriptions = new Map<number, SubscriptionHandle>();
  let writeBlocked = false;
  let paused = false;
  let inputEnded = false;
  let closing = false;
  let ended = false;

  const updateFlow = (): void => {
    const pause = inFlight.size >= deps.framesInFlightMax || writeBlocked;
    if (pause === paused || ended) return;
    paused = pause;
    if (pause) call.pause();
    else call.resume();
  };
  const written = spec.written;
  const write = (frame: ResponseFrame<Res>): void => {
    if (ended || call.destroyed || call.cancelled) return;
    const response = frame.response;
    // The callback runs after grpc-js copied the frame (sendMessage serializes before writing), or
    // with an error for a frame it never took: either way the answer's buffer is no longer read.
    const onWritten = written === undefined || response === undefined ? undefined : () => written(response);
    if (!call.write(frame, onWritten)) {
      writeBlocked = true;
      updateFlow();
    }
  };
  const finishIfDone = (): void => {
    if (ended || inFlight.size > 0 || !(inputEnded || closing)) return;
    ended = true;
    unsubscribe();
    if (call.destroyed || call.cancelled) return;
    if (closing) call.emit('error', toServiceError(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'this broker is shutting down and takes no new requests; retry on another broker', {})));
    else call.end();
  };
  const unsubscribe = deps.gate.onClose(() => {
    closing = true;
    // A subscription has no last answer to wait for: it stops, and the stream ends with SHUTTING_DOWN.
    for (const id of subscriptions.keys()) inFlight.get(id)?.cancel();
    finishIfDone();
  });

  const subscribeFrame = (id: number, request: Req, credit: number, subscribe: NonNullable<StreamSpec<Req, Res>['subscribe']>): void => {
    if (closing) {
      write({ id, error: toErrorDetail(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'this broker is shutting down and takes no new requests; retry on another broker', {})) });
      return;
    }
    if (subscriptions.size >= PULL_SUBSCRIPTIONS_PER_STREAM_MAX) {
      write({ id, error: toErrorDetail(new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `more than ${PULL_SUBSCRIPTIONS_PER_STREAM_MAX} pull subscriptions on one stream`, { id, max: PULL_SUBSCRIPTIONS_PER_STREAM_MAX })) });
      return;
    }
    // No deadline: a subscription is open until cancelled.
    const frameCall = new FrameCall(request, call, Number.POSITIVE_INFINITY);
    const end = (frame: ResponseFrame<Res> | undefined): void => {
      inFlight.delete(id);
      subscriptions.delete(id);
      if (frame !== undefined) write(frame);
      updateFlow();
      finishIfDone();
    };
    let handle: SubscriptionHandle;
    try {
      handle = subscribe(request, frameCall, credit, (response) => write({ id, response, subscribed: true }));
    } catch (err) {
      write({ id, error: toErrorDetail(err) });
      return;
    }
    inFlight.set(id, frameCall);
    subscriptions.set(id, handle);
    updateFlow();
    handle.done.then(
      () => end(undefined),
      (err: unknown) => end({ id, error: toErrorDetail(err) }),
    );
  };

  /** Answers `id` as a duplicate and returns true when a frame with that id is still in flight. */
  const refuseDuplicate = (id: number): boolean => {
    if (!inFlight.has(id)) return false;
    write({ id, error: toErrorDetail(invalidFrame(`${spec.method} stream frame id ${id} is already in flight on this stream`, { id })) });
    return true;
  };

  /**
   * Runs one frame's work (a request, or a frame of several sends) as one in-flight entry and
   * answers it once: `answer(value)` or its error. One reaction per frame (not then + finally: two
   * more promises and microtask turns per frame).
   */
  const startFrame = <V>(id: number, request: Req, timeoutMs: number, work: (frameCall: FrameCall<Req>) => Promise<V>, answer: (value: V) => ResponseFrame<Res>): void => {
    const frameCall = new FrameCall(request, call, frameDeadline(timeoutMs, Date.now()));
    inFlight.set(id, frameCall);
    updateFlow();
    const settle = (frame: ResponseFrame<Res>): void => {
      inFlight.delete(id);
      write(frame);
      updateFlow();
      finishIfDone();
    };
    work(frameCall).then(
      (value) => settle(answer(value)),
      (err: unknown) => settle({ id, error: toErrorDetail(err) }),
    );
  };

  call.on('drain', () => {
    writeBlocked = false;
    updateFlow();
  });
  call.on('end', () => {
    inputEnded = true;
    // A client that stopped sending can no longer top up or cancel its subscriptions: they end.
    for (const id of subscriptions.keys()) inFlight.get(id)?.cancel();
    finishIfDone();
  });
  call.on('cancelled', () => {
    for (const frameCall of inFlight.values()) frameCall.cancel();
    ended = true;
    unsubscribe();
  });
  // grpc-js ends the call with the error's status itself; a listener keeps a late write after a
  // cancel (ERR_STREAM_DESTROYED) from becoming an uncaught exception.
  call.on('error', (err: unknown) => deps.log.debug({ method: spec.method, err }, 'request stream failed'));
  call.on('data', (frame: RequestFrame<unknown>) => {
    const id = frame.id;
    const reason = malformedReason(frame);
    if (reason !== undefined) {
      write({ id, error: toErrorDetail(invalidFrame(`malformed ${spec.method} stream frame: ${reason}`, { id })) });
      return;
    }
    if (frame.cancel === true && spec.cancels) {
      inFlight.get(id)?.cancel();
      return;
    }
    const credit = frame.subscribeCredit ?? 0;
    if (credit > 0 && spec.subscribe !== undefined && frame.request == null) {
      subscriptions.get(id)?.grant(credit); // a top-up; one for a subscription that just ended is moot
      return;
    }
    const many = spec.requestsOf?.(frame);
    const serveMany = spec.serveMany;
    if (many !== undefined && serveMany !== undefined) {
      if (!refuseDuplicate(id)) startFrame(id, many[0] as Req, frame.timeoutMs, (frameCall) => serveMany(many, deps.run, frameCall), (multi) => ({ id, multi }));
      return;
    }
    const request = spec.requestOf(frame);
    if (request === undefined) {
      write({ id, error: toErrorDetail(invalidFrame(`${spec.method} stream frame ${id} carries no request`, { id })) });
      return;
    }
    if (refuseDuplicate(id)) return;
    if (credit > 0 && spec.subscribe !== undefined) {
      subscribeFrame(id, request, credit, spec.subscribe);
      return;
    }
    startFrame(id, request, frame.timeoutMs, (frameCall) => deps.run(spec.method, () => spec.serve(request, frameCall)), (response) => ({ id, response }));
  });
}

interface StreamHandlers {
  sendStream: grpc.handleBidiStreamingCall<conveyor.SendStreamRequest, conveyor.ISendStreamResponse>;
  pullStream: grpc.handleBidiStreamingCall<conveyor.PullStreamRequest, conveyor.IPullStreamResponse>;
}

export interface StreamHandlerOptions {
  /** Default STREAM_FRAMES_IN_FLIGHT_MAX; tests lower it. */
  framesInFlightMax?: number;
}

export function createStreamHandlers(services: Pick<BrokerServices, 'send' | 'pull'>, gate: RequestGate, run: RequestRunner, log: Logger, options: StreamHandlerOptions = {}): StreamHandlers {
  const deps: StreamDeps = { gate, run, log, framesInFlightMax: options.framesInFlightMax ?? STREAM_FRAMES_IN_FLIGHT_MAX };
  const send: StreamSpec<conveyor.SendRequest, conveyor.ISendResponse> = {
    method: 'send',
    requestOf: (frame) => (frame.request instanceof conveyor.SendRequest ? frame.request : undefined),
    serve: (request, call) => services.send.send(request, call),
    cancels: false,
    requestsOf: (frame) => sendRequestsOf(frame),
    serveMany: (requests, runner, call) => serveSends(requests, runner, (request) => services.send.send(request, call)),
  };
  const pull: StreamSpec<conveyor.PullRequest, conveyor.IPullResponse> = {
    method: 'pull',
    requestOf: (frame) => (frame.request instanceof conveyor.PullRequest ? frame.request : undefined),
    serve: (request, call) => services.pull.pull(request, call),
    cancels: true,
    written: (response) => services.pull.written(response),
    subscribe: (request, call, credit, emit) => openPullSubscription(services.pull, request, call, credit, run, emit),
  };
  return {
    sendStream: (call) => serveStream(call, send, deps),
    pullStream: (call) => serveStream(call, pull, deps),
  };
}
