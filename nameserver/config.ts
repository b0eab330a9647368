// Settings of `conveyor nameserver`: the common ones plus the nameserver's own. Each setting is a
// flag (--http-port), an environment variable (CONVEYOR_HTTP_PORT) and a config-file key (httpPort).
import { COMMON_SETTINGS, type ConfigOf, type Schema } from '../common/config.js';
import { BROKER_EXPIRY_MS_DEFAULT } from './route-table.js';

/** gRPC port clients and brokers use (RocketMQ's nameserver port). */
export const NAMESERVER_PORT_DEFAULT = 9876;
export const NAMESERVER_HTTP_PORT_DEFAULT = 9877;

/**
 * How often expired brokers are removed from memory. Routes never include an expired broker
 * whatever this is (reads filter on liveness); the scan only frees memory and logs the expiry.
 */
export const SCAN_INTERVAL_MS_DEFAULT = 5_000;

/** Shortest expiry accepted: below this, ordinary GC pauses and scheduling jitter drop live brokers. */
const BROKER_EXPIRY_MS_MIN = 200;
const SCAN_INTERVAL_MS_MIN = 50;

export const NAMESERVER_SETTINGS = {
  ...COMMON_SETTINGS,
  port: { kind: 'int', default: NAMESERVER_PORT_DEFAULT, min: 0, max: 65_535, description: 'gRPC port (0 = any free port; the bound port is logged)' },
  httpPort: { kind: 'int', default: NAMESERVER_HTTP_PORT_DEFAULT, min: 0, max: 65_535, description: 'HTTP port of /healthz, /readyz, /metrics (0 = any free port)' },
  brokerExpiryMs: {
    kind: 'int',
    default: BROKER_EXPIRY_MS_DEFAULT,
    min: BROKER_EXPIRY_MS_MIN,
    max: 3_600_000,
    description: 'a broker silent for longer than this leaves every route (keep it ≥ 3× the brokers\' heartbeat interval)',
  },
  scanIntervalMs: { kind: 'int', default: SCAN_INTERVAL_MS_DEFAULT, min: SCAN_INTERVAL_MS_MIN, max: 3_600_000, description: 'how often expired brokers are removed from memory and logged' },
} as const satisfies Schema;

export type NameServerConfig = ConfigOf<typeof NAMESERVER_SETTINGS>;
