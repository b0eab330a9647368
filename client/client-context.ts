// What every client object (Producer, PushConsumer, PullConsumer, Admin) holds: a logger, the
// broker channels, nameserver discovery and the route cache. Created at start(), closed at
// shutdown(); each client object has its own, so shutting one down never affects another.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConveyorError, ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import { silentLogger } from '../common/logging.js';
import { BrokerConnections, CONNECTION_IDLE_CLOSE_MS_DEFAULT } from './transport/broker-connections.js';
import { Discovery, grpcTransport, NAMESERVER_RESOLVE_INTERVAL_MS_DEFAULT, NAMESERVER_TIMEOUT_MS_DEFAULT, NAMESERVERS_DEFAULT } from './routing/discovery.js';
import { BrokerSuspicion } from './routing/read-target.js';
import { RouteCache, ROUTE_REFRESH_INTERVAL_MS_DEFAULT } from './routing/route-cache.js';

/** Options every client object takes. */
export interface ClientOptions {
  /** `host:port,host:port`, a list, or `dns-name:port`; default CONVEYOR_NAMESERVERS, else 127.0.0.1:9876. */
  nameservers?: string | readonly string[];
  /** A pino logger; the client logs below it with `component` fields. Default: silent. */
  log?: Logger;
  /** Deadline of nameserver and admin requests (default 3000 ms). */
  requestTimeoutMs?: number;
  /** How often cached routes are refreshed (default 30000 ms). */
  routeRefreshIntervalMs?: number;
  /** How often DNS names among the nameservers are resolved again (default 30000 ms). */
  nameserverResolveIntervalMs?: number;
  /** A broker channel idle this long is closed (default 120000 ms). */
  connectionIdleCloseMs?: number;
}

export class ClientContext {
  readonly connections: BrokerConnections;
  readonly discovery: Discovery;
  readonly routes: RouteCache;
  readonly requestTimeoutMs: number;
  /** Broker addresses that recently failed to answer: reads and commits try them last. */
  readonly suspicion = new BrokerSuspicion();

  constructor(readonly options: ClientOptions, readonly log: Logger) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? NAMESERVER_TIMEOUT_MS_DEFAULT;
    const suspicion = this.suspicion;
    this.connections = new BrokerConnections(
      options.connectionIdleCloseMs ?? CONNECTION_IDLE_CLOSE_MS_DEFAULT,
      undefined,
      {
        unreachable: (address) => suspicion.recordUnreachable(address),
        answered: (address) => suspicion.recordAnswer(address),
      },
    );
    try {
      this.discovery = new Discovery(
        {
          nameservers: options.nameservers ?? process.env.CONVEYOR_NAMESERVERS ?? NAMESERVERS_DEFAULT,
          requestTimeoutMs: this.requestTimeoutMs,
          resolveIntervalMs: options.nameserverResolveIntervalMs ?? NAMESERVER_RESOLVE_INTERVAL_MS_DEFAULT,
          log,
        },
        grpcTransport(this.connections),
      );
    } catch (err) {
      this.connections.close();
      throw err;
    }
    this.routes = new RouteCache(this.discovery, { refreshIntervalMs: options.routeRefreshIntervalMs ?? ROUTE_REFRESH_INTERVAL_MS_DEFAULT, log });
    this.routes.start();
  }

  close(): void {
    this.routes.stop();
    this.connections.close();
  }
}

/** The logger a client object uses: the caller's, or a silent one. */
export function clientLogger(options: ClientOptions, component: string): Logger {
  return (options.log ?? silentLogger()).child({ component });
}

/** `host@pid@random`: unique per client object, stable for its life (consumer group membership). */
export function createClientId(): string {
  return `${hostname().slice(0, 64)}@${process.pid}@${randomBytes(4).toString('hex')}`;
}

/** Lifecycle guard shared by client objects. */
export type LifecycleState = 'created' | 'running' | 'stopped';

export function requireRunning(state: LifecycleState, what: string): void {
  if (state === 'created') throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `${what} is not started: call start() first`, {});
  if (state === 'stopped') throw new ConveyorError(ErrorCode.SHUTTING_DOWN, `${what} is shut down`, {});
}
