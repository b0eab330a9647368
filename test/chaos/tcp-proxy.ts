// A TCP proxy in front of one broker: listens on the address the broker advertises (127.0.0.2:P)
// and forwards to where it listens (127.0.0.1:P). Every client and the broker's slave reach the
// broker through it, because the nameservers hand out the advertised address. `cut(pid)` freezes
// every connection whose client end belongs to process `pid` — existing ones and new ones — until
// `heal()`: a silent partition of that process from this broker (nothing is reset; bytes wait in
// buffers; keepalives and silence timers notice). The chaos suite cuts the slave's replication
// link this way without any broker setting.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { connectionOwnedBy } from './socket-owner.js';

/** Connections one proxy carries at once: a few per client and broker; a bug guard. */
export const PROXY_CONNECTIONS_MAX = 1_024;

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

interface Link {
  readonly client: Socket;
  readonly clientPort: number;
  readonly clientIp: string;
  upstream: Socket | undefined;
  frozen: boolean;
}

export class TcpProxy {
  private server: Server | undefined;
  private readonly links = new Set<Link>();
  private cutPid: number | undefined;
  /** Connections frozen since the proxy started (for the report). */
  frozenTotal = 0;

  constructor(
    readonly name: string,
    readonly listen: Endpoint,
    readonly upstream: Endpoint,
  ) {}

  async start(): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (socket) => void this.accept(socket));
    server.maxConnections = PROXY_CONNECTIONS_MAX;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port, this.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Live connections whose client end belongs to `pid`. */
  async connectionsOf(pid: number): Promise<number> {
    let count = 0;
    for (const link of [...this.links]) if (await this.ownedBy(link, pid)) count++;
    return count;
  }

  /** Freezes every connection of process `pid`, now and until heal(). Resolves with how many were frozen now. */
  async cut(pid: number): Promise<number> {
    this.cutPid = pid;
    let frozen = 0;
    for (const link of [...this.links]) {
      if (link.frozen || !(await this.ownedBy(link, pid))) continue;
      this.freeze(link);
      frozen++;
    }
    return frozen;
  }

  /** Ends the cut: frozen connections flow again (their peers may have given up on them meanwhile). */
  heal(): void {
    this.cutPid = undefined;
    for (const link of this.links) if (link.frozen) this.thaw(link);
  }

  async close(): Promise<void> {
    for (const link of this.links) this.drop(link);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async accept(client: Socket): Promise<void> {
    const link: Link = { client, clientPort: client.remotePort ?? 0, clientIp: stripV4Prefix(client.remoteAddress ?? ''), upstream: undefined, frozen: false };
    this.links.add(link);
    client.once('close', () => this.drop(link));
    client.on('error', () => this.drop(link));
    const cutPid = this.cutPid;
    if (cutPid !== undefined && (await this.ownedBy(link, cutPid)) && this.cutPid === cutPid) {
      // Accepted (the kernel did that already) but never answered: like a SYN into a black hole.
      link.frozen = true;
      this.frozenTotal++;
      return;
    }
    this.connect(link);
  }

  private connect(link: Link): void {
    if (link.client.destroyed) return;
    const upstream = createConnection({ host: this.upstream.host, port: this.upstream.port });
    link.upstream = upstream;
    upstream.once('close', () => this.drop(link));
    upstream.on('error', () => this.drop(link));
    link.client.pipe(upstream);
    upstream.pipe(link.client);
    link.client.resume();
  }

  private freeze(link: Link): void {
    link.frozen = true;
    this.frozenTotal++;
    const upstream = link.upstream;
    link.client.unpipe();
    link.client.pause();
    if (upstream) {
      upstream.unpipe();
      upstream.pause();
    }
  }

  private thaw(link: Link): void {
    link.frozen = false;
    if (link.upstream === undefined) return this.connect(link);
    link.client.pipe(link.upstream);
    link.upstream.pipe(link.client);
    link.client.resume();
    link.upstream.resume();
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }

  private async ownedBy(link: Link, pid: number): Promise<boolean> {
    try {
      return await connectionOwnedBy(pid, { ip: link.clientIp, port: link.clientPort }, { ip: this.listen.host, port: this.listen.port });
    } catch {
      return false;
    }
  }
}

function stripV4Prefix(address: string): string {
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
