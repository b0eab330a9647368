// The ServiceContext the broker's services run with, for unit tests over a real store (the store,
// topics, window and long-poll table come from the test): one place for the identity, metrics
// sources and defaults the send, pull, offset and stream-handler tests share.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ConsumerGroupTable } from '../../../broker/consumer-groups.js';
import type { DedupWindow } from '../../../broker/dedup-window.js';
import type { LongPollTable } from '../../../broker/long-poll.js';
import { createBrokerMetrics } from '../../../broker/metrics.js';
import type { ReplicationView, ServiceContext } from '../../../broker/services/context.js';
import type { MessageStore } from '../../../broker/store/index.js';
import type { TopicManager } from '../../../broker/topics.js';
import { silentLogger } from '../../../common/logging.js';

/** Async replication: no slave to wait for. */
export const NO_REPLICATION: ReplicationView = { lag: () => ({ bytes: 0, ms: 0 }), sync: undefined, configsChanged: () => undefined };

export interface TestContextParts {
  store: MessageStore;
  topics: TopicManager;
  dedup: DedupWindow;
  longPolls: LongPollTable;
  clock: () => number;
  brokerId?: number;
  replication?: ReplicationView;
  isStopping?: () => boolean;
  inFlightRequests?: () => number;
  log?: Logger;
}

export function testServiceContext(parts: TestContextParts): ServiceContext {
  const { store, topics, dedup, longPolls } = parts;
  return {
    identity: { clusterName: 'C', brokerName: 'broker-a', brokerId: parts.brokerId ?? 0, flushMode: 'async', replicationMode: 'async' },
    store,
    topics,
    consumers: new ConsumerGroupTable({ expiryMs: 30_000 }),
    dedup,
    longPolls,
    metrics: createBrokerMetrics(new Registry(), {
      store: { minPhysicalOffset: () => store.minPhysicalOffset, maxPhysicalOffset: () => store.maxPhysicalOffset, flushedPhysicalOffset: () => store.flushedPhysicalOffset },
      dedupEntries: () => dedup.size,
      topicCount: () => topics.size,
      longPollWaiting: () => longPolls.size,
      inFlightRequests: parts.inFlightRequests ?? (() => 0),
      replication: { lag: () => ({ bytes: 0, ms: 0 }), connectedSlaves: () => 0, masterConnected: () => 0, waitersRejected: () => 0 },
    }),
    replication: parts.replication ?? NO_REPLICATION,
    longPollMaxMs: 15_000,
    clock: parts.clock,
    isStopping: parts.isStopping ?? (() => false),
    log: parts.log ?? silentLogger(),
  };
}
