// The broker's public surface for other modules and tests.
export { Broker, DRAIN_TIMEOUT_MS, SERVER_SHUTDOWN_GRACE_MS, type BrokerStartOptions } from './broker.js';
export { BROKER_SETTINGS, parseBrokerFlags, type BrokerConfig } from './config.js';
export { main } from './main.js';
export { parseTagExpression, type TagFilter } from './consumers/tag-filter.js';
export { PULL_BYTES_MAX, PULL_COUNT_MAX, LONG_POLL_DEADLINE_MARGIN_MS, longPollHoldMs } from './services/pull.js';
