// One gRPC channel per broker address, shared by everything in one client object (producer,
// consumer, admin). A channel nobody has used for a while, with no call in flight, is closed;
// the next call opens it again. Calls can be cancelled (a long-poll pull when a queue moves away
// or the consumer shuts down). An optional observer hears which addresses answered and which did
// not (consumer failover steps around the latter: read-target.ts).
//
// Transport: Send and Pull go over one long-lived bidi stream per (channel, method) (SendStream /
// PullStream, client/transport/stream-mux.ts, docs/wire.md "Streams"): a message on an open stream costs a
// fraction of a unary call's CPU in grpc-js. A broker that does not implement the streams (older)
// is remembered per channel and served by unary Send / Pull calls. Every other method is a unary call.
import * as grpc from '@grpc/grpc-js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { CHANNEL_OPTIONS, fromServiceError, type ClientMethod } from '../../common/grpc.js';
import { BrokerService, type conveyor } from '../../proto/index.js';
import { isUnreachable } from '../retry-policy.js';
import { PULL_STREAM_METHOD, sendStreamMethod, StreamMux, type MuxSubscription, type StreamMuxMethod, type SubscriptionListener } from './stream-mux.js';

/** A channel unused this long (and idle) is closed. */
export const CONNECTION_IDLE_CLOSE_MS_DEFAULT = 120_000;
/** How often idle channels are looked for. */
const IDLE_SWEEP_INTERVAL_MS = 15_000;
/** Channels open at once: far more than brokers in any cluster; a bug guard, not a tuning knob. */
const CONNECTIONS_MAX = 1_024;

interface Connection {
  readonly client: grpc.Client;
  inFlight: number;
  lastUsedMs: number;
  /** Open request streams on this channel, by stream method path. */
  readonly muxes: Map<string, StreamMux<unknown, unknown>>;
}

/** The stream method that carries a unary method's requests, if there is one. */
const streamMethods = new WeakMap<object, StreamMuxMethod<unknown, unknown>>();

function streamMethodFor<Req, Res>(method: ClientMethod<Req, Res>): StreamMuxMethod<Req, Res> | undefined {
  const known = streamMethods.get(method);
  if (known !== undefined) return known as StreamMuxMethod<Req, Res>;
  let made: StreamMuxMethod<Req, Res> | undefined;
  // The nested request is the unary request's own bytes (the producer has its own encoder).
  if (method.path === BrokerService.send.path) made = sendStreamMethod(method.requestSerialize) as unknown as StreamMuxMethod<Req, Res>;
  else if (method.path === BrokerService.pull.path) made = { ...PULL_STREAM_METHOD, requestSerialize: method.requestSerialize } as unknown as StreamMuxMethod<Req, Res>;
  if (made !== undefined) streamMethods.set(method, made as StreamMuxMethod<unknown, unknown>);
  return made;
}

interface CallOptions {
  deadlineMs: number;
  /** Aborting cancels the call; it then rejects with a ConveyorError for which isCancelled() is true. */
  signal?: AbortSignal;
}

/** Hears the outcome of every call that was not cancelled by its caller. */
interface CallObserver {
  /** The call failed as unreachable (SERVICE_UNAVAILABLE, TIMEOUT, SHUTTING_DOWN). */
  unreachable(address: string): void;
  /** The address answered: a result, or an error with a meaning. */
  answered(address: string): void;
}

/** Creates the channel for an address; tests may substitute it. */
type ChannelFactory = (address: string) => grpc.Client;

/**
 * HTTP/2 flow-control window the client grants each broker connection (and each stream), instead
 * of the protocol's 64 KiB: pull answers run to megabytes, and with 64 KiB a broker sends a
 * sixteenth of a 1 MiB answer, then waits for the client's WINDOW_UPDATE, for every answer of
 * every queue sharing the connection. Two answers of PULL_MAX_BYTES_DEFAULT (8 MiB) fit. It
 * bounds only bytes the client has not read yet; grpc-js reads at once, and what a consumer
 * holds is bounded by its pull sizes. A consumer draining a backlog is bound by those round trips
 * with the default window (docs/performance.md "Numbers that shaped the code").
 */
const CLIENT_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

const CLIENT_CHANNEL_OPTIONS: grpc.ChannelOptions = { ...CHANNEL_OPTIONS, 'grpc-node.flow_control_window': CLIENT_FLOW_CONTROL_WINDOW_BYTES };

const defaultFactory: ChannelFactory = (address) => new grpc.Client(address, grpc.credentials.createInsecure(), CLIENT_CHANNEL_OPTIONS);

export class BrokerConnections {
  private readonly connections = new Map<string, Connection>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly idleCloseMs: number = CONNECTION_IDLE_CLOSE_MS_DEFAULT,
    private readonly factory: ChannelFactory = defaultFactory,
    private readonly observer?: CallObserver,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(Date.now()), Math.min(IDLE_SWEEP_INTERVAL_MS, idleCloseMs));
    this.sweeper.unref();
  }

  /** Open channels (for status and tests). */
  get size(): number {
    return this.connections.size;
  }

  /**
   * A Send or Pull (over its stream, see the top of the file) or any other unary call to
   * `address`; rejects with a ConveyorError carrying the server's code.
   */
  call<Req, Res>(address: string, method: ClientMethod<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    if (this.closed) return Promise.reject(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the client is shut down', { target: address }));
    if (options.signal?.aborted) return Promise.reject(cancelled(address));
    let connection: Connection;
    try {
      connection = this.connection(address);
    } catch (err) {
      return Promise.reject(err);
    }
    const streamMethod = streamMethodFor(method);
    if (streamMethod !== undefined) return this.viaStream(address, connection, method, streamMethod, request, options);
    return this.unary(address, connection, method, request, options);
  }

  /**
   * A pull subscription on `address`'s PullStream (stream-mux.ts subscribe); undefined when that
   * broker has no PullStream or answered an earlier subscription as a plain pull (pull instead).
   * The channel counts as in use while it is open; the observer hears how it ended.
   */
  subscribe(address: string, request: conveyor.IPullRequest, credit: number, deadlineMs: number, listener: SubscriptionListener<conveyor.PullResponse>): MuxSubscription | undefined {
    if (this.closed) return undefined;
    const connection = this.connection(address);
    const streamMethod = streamMethodFor(BrokerService.pull);
    if (streamMethod === undefined) return undefined;
    let mux = connection.muxes.get(streamMethod.path) as StreamMux<conveyor.IPullRequest, conveyor.PullResponse> | undefined;
    if (mux === undefined) {
      mux = new StreamMux(connection.client, streamMethod, { target: address, fallback: (req, o) => this.unary(address, connection, BrokerService.pull, req, o) });
      connection.muxes.set(streamMethod.path, mux as unknown as StreamMux<unknown, unknown>);
    }
    if (mux.unsupported || mux.subscriptionsRefused) return undefined;
    connection.inFlight++;
    let open = true;
    const release = (): void => {
      if (!open) return;
      open = false;
      connection.inFlight--;
      connection.lastUsedMs = Date.now();
    };
    const subscription = mux.subscribe(request, credit, deadlineMs, {
      answer: (response, stillOpen) => {
        if (!stillOpen) release();
        this.observer?.answered(address);
        listener.answer(response, stillOpen);
      },
      failed: (err) => {
        release();
        if (!isCancelled(err) && err.fields.streamUnsupported !== true) {
          if (isUnreachable(err.code)) this.observer?.unreachable(address);
          else this.observer?.answered(address);
        }
        listener.failed(err);
      },
    });
    return {
      grant: (messages) => subscription.grant(messages),
      cancel: () => {
        release();
        subscription.cancel();
      },
    };
  }

  /**
   * A request on a stream method with no unary twin (the producer's SendStream frames that carry
   * several queues' sends: client/producer/send-frames.ts), on a stream of its own on `address`'s channel;
   * `fallback` serves requests once the broker turns out not to implement the stream.
   */
  streamCall<Req, Res>(address: string, streamMethod: StreamMuxMethod<Req, Res>, request: Req, options: CallOptions, fallback: (request: Req, options: CallOptions) => Promise<Res>): Promise<Res> {
    if (this.closed) return Promise.reject(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the client is shut down', { target: address }));
    let connection: Connection;
    try {
      connection = this.connection(address);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = `${streamMethod.path}\u0000own`;
    let mux = connection.muxes.get(key) as StreamMux<Req, Res> | undefined;
    if (mux === undefined) {
      mux = new StreamMux<Req, Res>(connection.client, streamMethod, { target: address, fallback });
      connection.muxes.set(key, mux as unknown as StreamMux<unknown, unknown>);
    }
    return this.viaMux(address, connection, mux, request, options);
  }

  private viaStream<Req, Res>(address: string, connection: Connection, method: ClientMethod<Req, Res>, streamMethod: StreamMuxMethod<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    let mux = connection.muxes.get(streamMethod.path) as StreamMux<Req, Res> | undefined;
    if (mux === undefined) {
      // A broker without the stream: its requests go as unary calls (which count and observe themselves).
      mux = new StreamMux<Req, Res>(connection.client, streamMethod, { target: address, fallback: (req, o) => this.unary(address, connection, method, req, o) });
      connection.muxes.set(streamMethod.path, mux as unknown as StreamMux<unknown, unknown>);
    }
    return this.viaMux(address, connection, mux, request, options);
  }

  private viaMux<Req, Res>(address: string, connection: Connection, mux: StreamMux<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    if (mux.unsupported) return mux.request(request, options);
    connection.inFlight++;
    connection.lastUsedMs = Date.now();
    return mux.request(request, options).then(
      (value) => {
        connection.inFlight--;
        connection.lastUsedMs = Date.now();
        this.observer?.answered(address);
        return value;
      },
      (err: unknown) => {
        connection.inFlight--;
        connection.lastUsedMs = Date.now();
        if (!isCancelled(err) && err instanceof ConveyorError && err.fields.streamUnsupported !== true) {
          if (isUnreachable(err.code)) this.observer?.unreachable(address);
          else this.observer?.answered(address);
        }
        throw err;
      },
    );
  }

  private unary<Req, Res>(address: string, connection: Connection, method: ClientMethod<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    if (options.signal?.aborted) return Promise.reject(cancelled(address));
    connection.inFlight++;
    connection.lastUsedMs = Date.now();
    return new Promise<Res>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const call = connection.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + options.deadlineMs },
        (err, value) => {
          connection.inFlight--;
          connection.lastUsedMs = Date.now();
          if (onAbort) options.signal?.removeEventListener('abort', onAbort);
          if (err && err.code === grpc.status.CANCELLED && options.signal?.aborted) return reject(cancelled(address));
          if (err) {
            const error = fromServiceError(err, address);
            if (isUnreachable(error.code)) this.observer?.unreachable(address);
            else this.observer?.answered(address);
            return reject(error);
          }
          this.observer?.answered(address);
          resolve(value as Res);
        },
      );
      if (options.signal) {
        onAbort = () => call.cancel();
        options.signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Closes channels idle since before `nowMs - idleCloseMs`. */
  closeIdle(nowMs: number): void {
    for (const [address, connection] of this.connections) {
      if (connection.inFlight === 0 && nowMs - connection.lastUsedMs >= this.idleCloseMs) {
        for (const mux of connection.muxes.values()) mux.close();
        connection.client.close();
        this.connections.delete(address);
      }
    }
  }

  /** Closes every channel (in-flight calls fail); later calls fail with SHUTTING_DOWN. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const connection of this.connections.values()) {
      for (const mux of connection.muxes.values()) mux.close();
      connection.client.close();
    }
    this.connections.clear();
  }

  private connection(address: string): Connection {
    let connection = this.connections.get(address);
    if (connection === undefined) {
      if (this.connections.size >= CONNECTIONS_MAX) this.closeIdle(Number.POSITIVE_INFINITY);
      if (this.connections.size >= CONNECTIONS_MAX) {
        throw new ConveyorError(ErrorCode.INTERNAL, `more than ${CONNECTIONS_MAX} broker connections in use at once`, { max: CONNECTIONS_MAX });
      }
      connection = { client: this.factory(address), inFlight: 0, lastUsedMs: Date.now(), muxes: new Map() };
      this.connections.set(address, connection);
    }
    return connection;
  }
}

function cancelled(address: string): ConveyorError {
  return new ConveyorError(ErrorCode.SHUTTING_DOWN, `call to ${address} cancelled`, { target: address, cancelled: true });
}

/** True for the error a call gets when its AbortSignal fired. */
export function isCancelled(err: unknown): boolean {
  return err instanceof ConveyorError && err.fields.cancelled === true;
}
