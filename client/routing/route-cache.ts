// Topic routes, cached: fetched from a nameserver on first use, refreshed for every cached topic
// on an interval, and re-fetched soon after an error that suggests the route moved. When the
// nameservers cannot be reached, the last known route keeps serving (DESIGN.md §2: losing every
// nameserver stops new lookups, never the traffic of clients that already have routes).
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { silentLogger } from '../../common/logging.js';
import type { Discovery } from './discovery.js';
import { codeOf } from '../retry-policy.js';
import { routeFromWire, type TopicRoute } from './route.js';

/** How often every cached route is fetched again. */
export const ROUTE_REFRESH_INTERVAL_MS_DEFAULT = 30_000;
/** After an error, a route is fetched again at most this often (no storm of lookups). */
const ROUTE_ERROR_REFRESH_MIN_MS = 500;
/** Topics cached at once; the least recently used is forgotten beyond it. */
export const ROUTE_CACHE_TOPICS_MAX = 10_000;

interface Entry {
  route: TopicRoute;
  fetchedAtMs: number;
}

interface RouteCacheOptions {
  refreshIntervalMs?: number;
  log?: Logger;
  now?: () => number;
}

export class RouteCache {
  private readonly entries = new Map<string, Entry>();
  /** The topic last moved to (or stored at) the end of `entries`, whose order is recency. */
  private newestTopic: string | undefined;
  private readonly inFlight = new Map<string, Promise<TopicRoute>>();
  private readonly refreshIntervalMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly discovery: Discovery, options: RouteCacheOptions = {}) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? ROUTE_REFRESH_INTERVAL_MS_DEFAULT;
    this.log = (options.log ?? silentLogger()).child({ component: 'route-cache' });
    this.now = options.now ?? Date.now;
  }

  /** Starts the periodic refresh of every cached topic. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refreshAll(), this.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The cached route, or a fresh one. Throws TOPIC_NOT_FOUND for a topic no nameserver knows. */
  async get(topic: string): Promise<TopicRoute> {
    return this.getCached(topic) ?? this.fetch(topic);
  }

  /**
   * The cached route as `get` gives it (counted as a use for eviction), or undefined when there is
   * none and `get` would fetch: synchronous, for the send path, which asks for every message.
   */
  getCached(topic: string): TopicRoute | undefined {
    const entry = this.entries.get(topic);
    if (entry === undefined) return undefined;
    // Map order doubles as recency for eviction. Most calls are for the topic used last (one topic
    // per producer is common): that one is at the end already.
    if (topic !== this.newestTopic) {
      this.entries.delete(topic);
      this.entries.set(topic, entry);
      this.newestTopic = topic;
    }
    return entry.route;
  }

  /** The cached route without any lookup. */
  peek(topic: string): TopicRoute | undefined {
    return this.entries.get(topic)?.route;
  }

  /**
   * Fetches the route now. TOPIC_NOT_FOUND drops the cached route and is thrown; when no
   * nameserver answers, a cached route is returned as it is.
   */
  async refresh(topic: string): Promise<TopicRoute> {
    try {
      return await this.fetch(topic);
    } catch (err) {
      const cached = this.entries.get(topic);
      if (cached && codeOf(err) !== ErrorCode.TOPIC_NOT_FOUND) {
        this.log.debug({ topic, err }, 'route refresh failed, keeping the cached route');
        return cached.route;
      }
      throw err;
    }
  }

  /** After an error: fetch the route again in the background, unless that happened very recently. */
  refreshSoon(topic: string): void {
    const entry = this.entries.get(topic);
    if (entry && this.now() - entry.fetchedAtMs < ROUTE_ERROR_REFRESH_MIN_MS) return;
    this.refresh(topic).catch((err: unknown) => this.log.debug({ topic, err }, 'route refresh after an error failed'));
  }

  private fetch(topic: string): Promise<TopicRoute> {
    let pending = this.inFlight.get(topic);
    if (pending === undefined) {
      pending = this.discovery
        .getRoute(topic)
        .then((wire) => {
          const route = routeFromWire(topic, wire);
          this.store(topic, route);
          return route;
        })
        .catch((err: unknown) => {
          if (codeOf(err) === ErrorCode.TOPIC_NOT_FOUND) this.entries.delete(topic);
          throw err instanceof ConveyorError ? err : new ConveyorError(ErrorCode.INTERNAL, `route lookup failed: ${String(err)}`, { topic }, { cause: err });
        })
        .finally(() => this.inFlight.delete(topic));
      this.inFlight.set(topic, pending);
    }
    return pending;
  }

  private store(topic: string, route: TopicRoute): void {
    this.entries.delete(topic);
    this.entries.set(topic, { route, fetchedAtMs: this.now() });
    this.newestTopic = topic;
    while (this.entries.size > ROUTE_CACHE_TOPICS_MAX) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  private async refreshAll(): Promise<void> {
    for (const topic of [...this.entries.keys()]) {
      try {
        await this.refresh(topic);
      } catch (err) {
        this.log.debug({ topic, err }, 'periodic route refresh failed');
      }
    }
  }
}
