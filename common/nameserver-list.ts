// The configured nameserver list (`h:p,h:p`), where any host may be a DNS name that resolves to
// several addresses (a Kubernetes headless Service). Brokers register with every address it
// yields and clients fail over across them; both re-resolve on an interval so that nameservers
// added or replaced are found without a restart.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatHostPort, parseAddressList, parseHostPort } from './addresses.js';
import { ConveyorError, ErrorCode } from './errors.js';
import { silentLogger, type Logger } from './logging.js';

/** How often DNS names in the list are resolved again (pods come and go). */
export const NAMESERVER_RESOLVE_INTERVAL_MS_DEFAULT = 30_000;
/** Addresses one DNS name may expand to: a nameserver fleet is a handful of processes. */
export const NAMESERVER_ADDRESSES_MAX = 64;

export type HostLookup = (host: string) => Promise<string[]>;

interface NameserverListOptions {
  nameservers: string | readonly string[];
  resolveIntervalMs?: number;
  /** DNS resolution (default: dns.promises.lookup with all: true). */
  lookup?: HostLookup;
  now?: () => number;
  log?: Logger;
}

interface Entry {
  host: string;
  port: number;
  /** A name, not an IP literal: needs resolution. */
  dns: boolean;
}

async function lookupAll(host: string): Promise<string[]> {
  const found = await dnsLookup(host, { all: true });
  return found.map((a) => a.address);
}

export class NameserverList {
  private readonly entries: Entry[];
  private readonly resolveIntervalMs: number;
  private readonly lookup: HostLookup;
  private readonly now: () => number;
  private readonly log: Logger;
  private current: string[] = [];
  private resolvedAtMs = Number.NEGATIVE_INFINITY;
  private resolving: Promise<void> | undefined;

  /** Validates the list; throws INVALID_ARGUMENT for a malformed or empty one. */
  constructor(options: NameserverListOptions) {
    const list = parseAddressList(typeof options.nameservers === 'string' ? options.nameservers : [...options.nameservers], 'nameserver address');
    if (list.length === 0) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'no nameserver address given: pass host:port[,host:port…] (or a DNS name:port that resolves to all of them)', {});
    }
    this.entries = list.map((text) => {
      const { host, port } = parseHostPort(text, 'nameserver address');
      return { host, port, dns: isIP(host) === 0 };
    });
    this.resolveIntervalMs = options.resolveIntervalMs ?? NAMESERVER_RESOLVE_INTERVAL_MS_DEFAULT;
    this.lookup = options.lookup ?? lookupAll;
    this.now = options.now ?? Date.now;
    this.log = (options.log ?? silentLogger()).child({ component: 'nameserver-list' });
    if (!this.hasDnsNames) {
      this.current = this.entries.map((e) => formatHostPort(e.host, e.port));
      this.resolvedAtMs = Number.POSITIVE_INFINITY;
    }
  }

  /** True when some entry is a DNS name (re-resolution can change the addresses). */
  get hasDnsNames(): boolean {
    return this.entries.some((e) => e.dns);
  }

  /** The addresses of the last resolution (deduplicated, in list order). */
  get addresses(): readonly string[] {
    return this.current;
  }

  /**
   * Resolves DNS names when the interval has passed (or when forced) and returns the addresses.
   * A failed lookup keeps what an earlier one found; with nothing found ever, SERVICE_UNAVAILABLE.
   */
  async resolveIfDue(force = false): Promise<readonly string[]> {
    if (force || this.now() - this.resolvedAtMs >= this.resolveIntervalMs) {
      this.resolving ??= this.resolve().finally(() => (this.resolving = undefined));
      await this.resolving;
    }
    return this.current;
  }

  private async resolve(): Promise<void> {
    const addresses: string[] = [];
    const problems: string[] = [];
    for (const entry of this.entries) {
      if (!entry.dns) {
        addresses.push(formatHostPort(entry.host, entry.port));
        continue;
      }
      try {
        const found = await this.lookup(entry.host);
        for (const ip of found.slice(0, NAMESERVER_ADDRESSES_MAX)) addresses.push(formatHostPort(ip, entry.port));
      } catch (err) {
        problems.push(`${entry.host}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.resolvedAtMs = this.now();
    if (addresses.length > 0) {
      const next = [...new Set(addresses)];
      if (next.join(',') !== this.current.join(',')) this.log.info({ addresses: next }, 'nameserver addresses resolved');
      this.current = next;
    } else if (this.current.length === 0) {
      throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `cannot resolve any nameserver address: ${problems.join('; ')}`, { problems: problems.join('; ') });
    } else {
      this.log.warn({ problems, kept: this.current }, 'nameserver lookup failed, keeping the addresses found before');
    }
  }
}
