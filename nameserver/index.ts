// The nameserver's public surface, for the local cluster launcher and tests.
export {
  RouteTable,
  BROKER_EXPIRY_MS_DEFAULT,
  BROKERS_MAX,
  TOPICS_PER_BROKER_MAX,
  QUEUE_COUNT_MAX,
  PERM_READ,
  PERM_WRITE,
  PERM_MAX,
  type BrokerEntry,
  type BrokerGroupRoute,
  type BrokerIdentity,
  type BrokerRegistration,
  type DataVersion,
  type QueueRoute,
  type RegisterResult,
  type RegistrationChange,
  type RouteTableOptions,
  type RouteTableStats,
  type TopicLayout,
  type TopicRoute,
} from './route-table.js';
export { createNameServerHandlers, registrationFromWire, type NameServerServiceOptions } from './service.js';
export { createNameServerMetrics, type NameServerMetrics } from './metrics.js';
export { NAMESERVER_SETTINGS, NAMESERVER_PORT_DEFAULT, NAMESERVER_HTTP_PORT_DEFAULT, SCAN_INTERVAL_MS_DEFAULT, type NameServerConfig } from './config.js';
export { startNameServer, main, SHUTDOWN_GRACE_MS, type RunningNameServer } from './main.js';
