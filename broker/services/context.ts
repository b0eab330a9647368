// What every service handler shares: the store, the Appender, the tables, replication, the
// settings and the clock. The store is seen through `BrokerStore`, the part of broker/store's
// MessageStore the services use; it has no `append`: every write goes through the Appender
// (broker/append/appender.ts).
import type { Logger } from '../../common/logging.js';
import type { Appender } from '../append/appender.js';
import type { SystemTopics } from '../append/system-topics.js';
import type { ReplicationView } from '../replication/index.js';
import type { ConsumerGroupTable } from '../consumers/consumer-groups.js';
import type { DedupWindow } from '../dedup/dedup-window.js';
import type { LongPollTable } from '../consumers/long-poll.js';
import type { BrokerMetrics } from '../metrics.js';
import type { MessageStore } from '../store/index.js';
import type { TopicManager } from '../topics/topics.js';

/** The store as the services use it (reads, lookups, deletion; writes go through the Appender). */
type BrokerStore = Pick<
  MessageStore,
  | 'read'
  | 'queueRange'
  | 'searchOffset'
  | 'lastStoreTimestamp'
  | 'lookupById'
  | 'lookupByKey'
  | 'deleteTopic'
  | 'minPhysicalOffset'
  | 'maxPhysicalOffset'
  | 'meta'
>;

export interface BrokerIdentity {
  readonly clusterName: string;
  readonly brokerName: string;
  readonly brokerId: number;
  readonly flushMode: string;
  readonly replicationMode: string;
}

export interface ServiceContext {
  readonly identity: BrokerIdentity;
  readonly store: BrokerStore;
  /** The one write path into the store (the send front and every broker-side writer). */
  readonly appender: Appender;
  /** Ensure, write and read the broker's own topics (retries, dead letters, schedules, transactions). */
  readonly systemTopics: SystemTopics;
  readonly topics: TopicManager;
  readonly consumers: ConsumerGroupTable;
  readonly dedup: DedupWindow;
  readonly longPolls: LongPollTable;
  readonly metrics: BrokerMetrics;
  readonly replication: ReplicationView;
  readonly longPollMaxMs: number;
  readonly clock: () => number;
  /** True once shutdown began: held pulls answer now and no new pull waits. */
  readonly isStopping: () => boolean;
  readonly log: Logger;
}

export function isMaster(identity: BrokerIdentity): boolean {
  return identity.brokerId === 0;
}
