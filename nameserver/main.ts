// `conveyor nameserver`: the process shell around the route table. Loads and validates the config,
// logs it once, serves the NameServer gRPC service and the ops HTTP endpoints, runs the expiry
// scan on an interval, and stops cleanly on SIGTERM/SIGINT.
import * as grpc from '@grpc/grpc-js';
import { envVarName, loadConfig, parseSettingFlags, redactConfig } from '../common/config.js';
import { isConveyorError } from '../common/errors.js';
import { SERVER_OPTIONS, bindServer, shutdownServer } from '../common/grpc.js';
import { createMetricsRegistry, startOpsServer, type OpsServer } from '../common/http.js';
import { installShutdown } from '../common/lifecycle.js';
import { createLogger, type Logger } from '../common/logging.js';
import { NameServerService } from '../proto/index.js';
import { NAMESERVER_SETTINGS, type NameServerConfig } from './config.js';
import { createNameServerMetrics } from './metrics.js';
import { RouteTable } from './route-table.js';
import { createNameServerHandlers } from './service.js';

/** How long in-flight calls may take to finish on shutdown before they are cancelled. */
export const SHUTDOWN_GRACE_MS = 5_000;

/** Exit code for a configuration the process cannot start with. */
const EXIT_CONFIG_INVALID = 2;
const EXIT_START_FAILED = 1;

export interface RunningNameServer {
  /** The bound gRPC port (the real one when the config said 0). */
  readonly port: number;
  /** The bound HTTP ops port. */
  readonly httpPort: number;
  readonly table: RouteTable;
  /** Stops the scan, lets in-flight calls finish (up to SHUTDOWN_GRACE_MS), closes both servers. */
  stop(): Promise<void>;
}

/**
 * Starts a nameserver in this process: ops HTTP first (so /healthz answers during start-up), then
 * the gRPC server; /readyz turns 200 once gRPC is bound.
 */
export async function startNameServer(config: NameServerConfig, log: Logger): Promise<RunningNameServer> {
  const table = new RouteTable({ brokerExpiryMs: config.brokerExpiryMs, now: Date.now });
  // A nameserver serves heartbeats and route lookups, a few per second: its GCs are rare, so it keeps the GC histogram.
  const registry = createMetricsRegistry('nameserver', { gcMetrics: true });
  const metrics = createNameServerMetrics(registry, table);
  let ready = false;
  const ops: OpsServer = await startOpsServer({
    host: config.host,
    port: config.httpPort,
    registry,
    isReady: () => ready,
    status: () => ({ role: 'nameserver', ...table.stats() }),
    log: log.child({ component: 'ops-http' }),
  });

  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(NameServerService, createNameServerHandlers({ table, log, metrics }));
  let port: number;
  try {
    port = await bindServer(server, config.host, config.port);
  } catch (err) {
    await ops.close();
    throw err;
  }

  const scanLog = log.child({ component: 'expiry-scan' });
  const scan = setInterval(() => {
    for (const broker of table.expire()) {
      metrics.brokersExpired.inc();
      scanLog.warn(
        { clusterName: broker.clusterName, brokerName: broker.brokerName, brokerId: broker.brokerId, brokerAddress: broker.brokerAddress, lastUpdateMs: broker.lastUpdateMs, brokerExpiryMs: config.brokerExpiryMs },
        'broker expired',
      );
    }
  }, config.scanIntervalMs);

  ready = true;
  log.info({ port, httpPort: ops.port }, 'nameserver ready');
  return {
    port,
    httpPort: ops.port,
    table,
    stop: async () => {
      ready = false;
      clearInterval(scan);
      await shutdownServer(server, SHUTDOWN_GRACE_MS);
      await ops.close();
    },
  };
}


/** Entry of `conveyor nameserver …`; argv[0] is 'nameserver'. */
export async function main(argv: string[]): Promise<void> {
  const flags = parseSettingFlags('conveyor nameserver', 'run a nameserver: the route table brokers register with and clients look routes up in', NAMESERVER_SETTINGS, argv.slice(1));
  const file = (flags.config as string | undefined) ?? process.env[envVarName('config')];
  let config: NameServerConfig;
  try {
    config = loadConfig(NAMESERVER_SETTINGS, { flags, env: process.env, file: file === '' ? undefined : file });
  } catch (err) {
    if (!isConveyorError(err)) throw err;
    process.stderr.write(`conveyor nameserver: ${err.message}\n`);
    process.exitCode = EXIT_CONFIG_INVALID;
    return;
  }

  const log = createLogger({ name: 'nameserver', level: config.logLevel });
  log.info({ config: redactConfig(NAMESERVER_SETTINGS, config) }, 'nameserver starting');
  let running: RunningNameServer;
  try {
    running = await startNameServer(config, log);
  } catch (err) {
    log.fatal({ err }, 'nameserver failed to start');
    process.exitCode = EXIT_START_FAILED;
    return;
  }
  installShutdown(log, () => running.stop());
}
