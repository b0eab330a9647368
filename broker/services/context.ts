// What every service handler shares: the store, the tables, the settings and the clock. The store
// is seen through `BrokerStore`, the part of broker/store's MessageStore the services use.
import type { Logger } from '../../common/logging.js';
import type { ConsumerGroupTable } from '../consumer-groups.js';
import type { DedupWindow } from '../dedup-window.js';
import type { LongPollTable } from '../long-poll.js';
import type { BrokerMetrics } from '../metrics.js';
import type { MessageStore } from '../store/index.js';
import type { TopicManager } from '../topics.js';

/** The store as the services use it. */
export type BrokerStore = Pick<
  MessageStore,
  | 'append'
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
  readonly topics: TopicManager;
  readonly consumers: ConsumerGroupTable;
  readonly dedup: DedupWindow;
  readonly longPolls: LongPollTable;
  readonly metrics: BrokerMetrics;
  readonly longPollMaxMs: number;
  readonly clock: () => number;
  /** True once shutdown began: held pulls answer now and no new pull waits. */
  readonly isStopping: () => boolean;
  readonly log: Logger;
}

export function isMaster(identity: BrokerIdentity): boolean {
  return identity.brokerId === 0;
}
