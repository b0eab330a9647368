// The per-process HTTP server for operators and orchestrators: /healthz (alive), /readyz (able to
// serve), /metrics (Prometheus text). Nothing on the data path goes through it.
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConveyorError, ErrorCode } from './errors.js';
import type { Logger } from './logging.js';

interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Ready to serve traffic (e.g. registered with a nameserver, recovery done). */
  isReady: () => boolean;
  /** Extra JSON shown at /readyz and /healthz, e.g. role and offsets. */
  status?: () => Record<string, unknown>;
  log: Logger;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
type DefaultMetric = (registry: Registry, config: object) => void;
/** prom-client's default metric that watches every GC through a PerformanceObserver. */
const GC_METRIC = 'gc';

/**
 * A registry with Node's default process metrics (prom-client's) and a `process` label for this
 * process. `gcMetrics: false` leaves out `nodejs_gc_duration_seconds`: its 'gc' PerformanceObserver
 * makes Node build an entry (with two util.deprecate getters) for every GC, and on a broker those
 * objects are a large share of what piles up in the old generation between full GCs
 * (docs/performance.md "Numbers that shaped the code"). All are registered one by one from prom-client's modules, which prom-client 15
 * names in `collectDefaultMetrics.metricsList` (lib/metrics/<name>.js).
 */
export function createMetricsRegistry(processName: string, options: { gcMetrics: boolean }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  // prom-client's collectDefaultMetrics config, with its default precision.
  const config = { register: registry, eventLoopMonitoringPrecision: 10 };
  for (const name of collectDefaultMetrics.metricsList) {
    if (name !== GC_METRIC || options.gcMetrics) (require(`prom-client/lib/metrics/${name}`) as DefaultMetric)(registry, config);
  }
  return registry;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'application/json'): void => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, JSON.stringify({ error: 'method not allowed' }));
    switch (path) {
      case '/healthz':
        return send(200, JSON.stringify({ status: 'ok', ...options.status?.() }));
      case '/readyz': {
        const ready = options.isReady();
        return send(ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not ready', ...options.status?.() }));
      }
      case '/metrics':
        options.registry.metrics().then(
          (text) => send(200, text, options.registry.contentType),
          (err: unknown) => send(500, JSON.stringify({ error: String(err) })),
        );
        return undefined;
      default:
        return send(404, JSON.stringify({ error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ConveyorError(ErrorCode.CONFIG_INVALID, `cannot listen for HTTP on ${options.host}:${options.port}: ${err.message}`, { port: options.port }, { cause: err })));
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.log.info({ port }, 'http ops server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
