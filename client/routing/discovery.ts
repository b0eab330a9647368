// Talking to nameservers: the configured list (`h:p,h:p`) or a DNS name resolved to all its
// addresses (re-resolved on an interval), with failover — a nameserver that does not answer is
// left for the next one, and the one that answered is used first next time. Nameserver errors
// with a meaning (TOPIC_NOT_FOUND…) are returned at once, not failed over.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { ClientMethod } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';
import { silentLogger } from '../../common/logging.js';
import { NameserverList, type HostLookup } from '../../common/nameserver-list.js';
import { NameServerService, type conveyor } from '../../proto/index.js';
import type { BrokerConnections } from '../transport/broker-connections.js';
import { codeOf, isUnreachable } from '../retry-policy.js';

export { NAMESERVER_RESOLVE_INTERVAL_MS_DEFAULT, NAMESERVER_ADDRESSES_MAX, type HostLookup } from '../../common/nameserver-list.js';

/** Deadline of one nameserver request. */
export const NAMESERVER_TIMEOUT_MS_DEFAULT = 3_000;

/** The default list when nothing is configured (also the CLI's). */
export const NAMESERVERS_DEFAULT = '127.0.0.1:9876';

export type NameserverTransport = <Req, Res>(address: string, method: ClientMethod<Req, Res>, request: Req, deadlineMs: number) => Promise<Res>;

interface DiscoveryOptions {
  nameservers: string | readonly string[];
  requestTimeoutMs?: number;
  resolveIntervalMs?: number;
  log?: Logger;
  now?: () => number;
  /** DNS resolution (default: dns.promises.lookup with all: true). */
  lookup?: HostLookup;
}

/**
 * Which nameserver to ask first (pure). The last one that answered stays first; a failed one
 * moves the start to the next address.
 */
export class NameserverRotation {
  private addressList: string[] = [];
  private start = 0;

  get addresses(): readonly string[] {
    return this.addressList;
  }

  /** Replaces the list, keeping the preferred address first if it is still there. */
  update(addresses: readonly string[]): void {
    const preferred = this.addressList[this.start];
    this.addressList = [...new Set(addresses)];
    const index = preferred === undefined ? -1 : this.addressList.indexOf(preferred);
    this.start = index >= 0 ? index : 0;
  }

  /** Addresses in the order to try them. */
  order(): string[] {
    const n = this.addressList.length;
    return Array.from({ length: n }, (_, i) => this.addressList[(this.start + i) % n] as string);
  }

  succeeded(address: string): void {
    const index = this.addressList.indexOf(address);
    if (index >= 0) this.start = index;
  }

  failed(address: string): void {
    if (this.addressList[this.start] === address) this.start = (this.start + 1) % Math.max(this.addressList.length, 1);
  }
}

export class Discovery {
  readonly rotation = new NameserverRotation();
  private readonly nameservers: NameserverList;
  private readonly requestTimeoutMs: number;
  private readonly log: Logger;

  constructor(options: DiscoveryOptions, private readonly transport: NameserverTransport) {
    this.log = (options.log ?? silentLogger()).child({ component: 'discovery' });
    this.nameservers = new NameserverList({
      nameservers: options.nameservers,
      resolveIntervalMs: options.resolveIntervalMs,
      lookup: options.lookup,
      now: options.now,
      log: this.log,
    });
    this.requestTimeoutMs = options.requestTimeoutMs ?? NAMESERVER_TIMEOUT_MS_DEFAULT;
    this.rotation.update(this.nameservers.addresses);
  }

  /** Asks nameservers in turn until one answers; meaningful errors (e.g. TOPIC_NOT_FOUND) are thrown at once. */
  async call<Req, Res>(method: ClientMethod<Req, Res>, request: Req): Promise<Res> {
    await this.resolve(false);
    let tried = await this.tryAll(method, request);
    if ('value' in tried) return tried.value;
    // Every address failed: the DNS answer may be stale (pods replaced), so resolve once more.
    if (this.nameservers.hasDnsNames) {
      await this.resolve(true);
      tried = await this.tryAll(method, request);
      if ('value' in tried) return tried.value;
    }
    const addresses = this.rotation.addresses.join(', ') || '(none resolved)';
    throw new ConveyorError(
      ErrorCode.SERVICE_UNAVAILABLE,
      `no nameserver answered (tried ${addresses}): ${tried.last instanceof Error ? tried.last.message : 'no address'}`,
      { nameservers: addresses },
      { cause: tried.last },
    );
  }

  getRoute(topic: string): Promise<conveyor.TopicRoute> {
    return this.call(NameServerService.getRoute, { topic });
  }

  getClusterInfo(): Promise<conveyor.ClusterInfo> {
    return this.call(NameServerService.getClusterInfo, {});
  }

  getTopicList(): Promise<conveyor.TopicList> {
    return this.call(NameServerService.getTopicList, {});
  }

  private async tryAll<Req, Res>(method: ClientMethod<Req, Res>, request: Req): Promise<{ value: Res } | { last: unknown }> {
    let last: unknown;
    for (const address of this.rotation.order()) {
      try {
        const value = await this.transport(address, method, request, this.requestTimeoutMs);
        this.rotation.succeeded(address);
        return { value };
      } catch (err) {
        if (!isUnreachable(codeOf(err))) throw err;
        this.log.debug({ address, err }, 'nameserver did not answer, trying the next');
        this.rotation.failed(address);
        last = err;
      }
    }
    return { last };
  }

  private async resolve(force: boolean): Promise<void> {
    this.rotation.update(await this.nameservers.resolveIfDue(force));
  }
}

/** The transport over real gRPC channels. */
export function grpcTransport(connections: BrokerConnections): NameserverTransport {
  return (address, method, request, deadlineMs) => connections.call(address, method, request, { deadlineMs });
}
