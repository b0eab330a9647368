// One gRPC channel per broker address, shared by everything in one client object (producer,
// consumer, admin). A channel nobody has used for a while, with no call in flight, is closed;
// the next call opens it again. Calls can be cancelled (a long-poll pull when a queue moves away
// or the consumer shuts down). An optional observer hears which addresses answered and which did
// not (consumer failover steps around the latter: read-target.ts).
import * as grpc from '@grpc/grpc-js';
import { ConveyorError, ErrorCode } from '../common/errors.js';
import { CHANNEL_OPTIONS, fromServiceError, type ClientMethod } from '../common/grpc.js';
import { isUnreachable } from './retry-policy.js';

/** A channel unused this long (and idle) is closed. */
export const CONNECTION_IDLE_CLOSE_MS_DEFAULT = 120_000;
/** How often idle channels are looked for. */
const IDLE_SWEEP_INTERVAL_MS = 15_000;
/** Channels open at once: far more than brokers in any cluster; a bug guard, not a tuning knob. */
export const CONNECTIONS_MAX = 1_024;

interface Connection {
  readonly client: grpc.Client;
  inFlight: number;
  lastUsedMs: number;
}

export interface CallOptions {
  deadlineMs: number;
  /** Aborting cancels the call; it then rejects with a ConveyorError for which isCancelled() is true. */
  signal?: AbortSignal;
}

/** Hears the outcome of every call that was not cancelled by its caller. */
export interface CallObserver {
  /** The call failed as unreachable (SERVICE_UNAVAILABLE, TIMEOUT, SHUTTING_DOWN). */
  unreachable(address: string): void;
  /** The address answered: a result, or an error with a meaning. */
  answered(address: string): void;
}

/** Creates the channel for an address; tests may substitute it. */
export type ChannelFactory = (address: string) => grpc.Client;

const defaultFactory: ChannelFactory = (address) => new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);

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

  /** A unary call to `address`; rejects with a ConveyorError carrying the server's code. */
  call<Req, Res>(address: string, method: ClientMethod<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    if (this.closed) return Promise.reject(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'the client is shut down', { target: address }));
    if (options.signal?.aborted) return Promise.reject(cancelled(address));
    let connection: Connection;
    try {
      connection = this.connection(address);
    } catch (err) {
      return Promise.reject(err);
    }
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
        connection.client.close();
        this.connections.delete(address);
      }
    }
  }

  /** Closes every channel (in-flight calls fail); later calls fail with SHUTTING_DOWN. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const connection of this.connections.values()) connection.client.close();
    this.connections.clear();
  }

  private connection(address: string): Connection {
    let connection = this.connections.get(address);
    if (connection === undefined) {
      if (this.connections.size >= CONNECTIONS_MAX) this.closeIdle(Number.POSITIVE_INFINITY);
      if (this.connections.size >= CONNECTIONS_MAX) {
        throw new ConveyorError(ErrorCode.INTERNAL, `more than ${CONNECTIONS_MAX} broker connections in use at once`, { max: CONNECTIONS_MAX });
      }
      connection = { client: this.factory(address), inFlight: 0, lastUsedMs: Date.now() };
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
