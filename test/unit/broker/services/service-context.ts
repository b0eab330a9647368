// The ServiceContext the broker's services run with, for unit tests over a real store (the store,
// topics, window and long-poll table come from the test): one place for the identity, metrics
// sources and defaults the send, pull, offset and stream-handler tests share.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { Appender } from '../../../../broker/append/appender.js';
import { SystemTopics } from '../../../../broker/append/system-topics.js';
import { ConsumerGroupTable } from '../../../../broker/consumers/consumer-groups.js';
import { DedupWindow } from '../../../../broker/dedup/dedup-window.js';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { createBrokerMetrics } from '../../../../broker/metrics.js';
import { AdminService } from '../../../../broker/services/admin.js';
import { ConsumerService } from '../../../../broker/services/consumers.js';
import type { ReplicationView } from '../../../../broker/replication/index.js';
import type { ServiceContext } from '../../../../broker/services/context.js';
import { RequestGate } from '../../../../broker/services/request-runner.js';
import { OffsetService } from '../../../../broker/services/offsets.js';
import { PullService } from '../../../../broker/services/pull.js';
import { SendService } from '../../../../broker/services/send.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { TopicManager } from '../../../../broker/topics/topics.js';
import { silentLogger } from '../../../../common/logging.js';

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
  const identity = { clusterName: 'C', brokerName: 'broker-a', brokerId: parts.brokerId ?? 0, flushMode: 'async', replicationMode: 'async' };
  const replication = parts.replication ?? NO_REPLICATION;
  const metrics = createBrokerMetrics(new Registry(), {
    store: { minPhysicalOffset: () => store.minPhysicalOffset, maxPhysicalOffset: () => store.maxPhysicalOffset, flushedPhysicalOffset: () => store.flushedPhysicalOffset },
    dedupEntries: () => dedup.size,
    topicCount: () => topics.size,
    longPollWaiting: () => longPolls.size,
    inFlightRequests: parts.inFlightRequests ?? (() => 0),
    replication: { lag: () => ({ bytes: 0, ms: 0 }), connectedSlaves: () => 0, masterConnected: () => 0, waitersRejected: () => 0 },
  });
  const appender = new Appender({ store, identity, replication, metrics });
  return {
    identity,
    store,
    appender,
    systemTopics: new SystemTopics({ topics, appender, store }),
    topics,
    consumers: new ConsumerGroupTable({ expiryMs: 30_000 }),
    dedup,
    longPolls,
    metrics,
    replication,
    longPollMaxMs: 15_000,
    clock: parts.clock,
    isStopping: parts.isStopping ?? (() => false),
    log: parts.log ?? silentLogger(),
  };
}

/** A broker's services over a real store in a temp directory, for the stream-handler tests. */
export interface TestBroker {
  store: MessageStore;
  longPolls: LongPollTable;
  gate: RequestGate;
  ctx: ServiceContext;
  services: { send: SendService; pull: PullService; offsets: OffsetService; consumers: ConsumerService; admin: AdminService };
  log: Logger;
}

/**
 * Opens a store in a new temp directory with topic 't' (4 queues), a 60 s de-duplication window,
 * a long-poll table woken by the store's dispatch and a request gate; `cleanups` receives what
 * closes and removes them (to run in reverse order). `clock` (default Date.now) stamps the stored
 * records and runs the services.
 */
export async function openTestBroker(dirPrefix: string, cleanups: Array<() => Promise<unknown> | void>, options: { clock?: () => number } = {}): Promise<TestBroker> {
  const clock = options.clock ?? (() => Date.now());
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = await MessageStore.open({ dataDir: dir, segmentBytes: 1024 * 1024, backgroundTimers: false, clock });
  cleanups.push(() => store.close());
  const log = silentLogger();
  const topics = new TopicManager({ meta: store.meta, autoCreateTopics: false, defaultQueueCount: 4, onChange: () => undefined, log });
  await topics.load();
  await topics.upsert({ topicName: 't', readQueueCount: 4, writeQueueCount: 4, perm: 6 });
  const dedup = new DedupWindow({ windowMs: 60_000, startedAtMs: clock(), newestStoredBeforeStartMs: null });
  const longPolls = new LongPollTable();
  const gate = new RequestGate();
  const ctx = testServiceContext({ store, topics, dedup, longPolls, clock, isStopping: () => gate.isClosed, inFlightRequests: () => gate.inFlight, log });
  cleanups.push(store.onDispatch((topic, queueId, max) => longPolls.notify(topic, queueId, max)));
  const services = { send: new SendService(ctx), pull: new PullService(ctx), offsets: new OffsetService(ctx), consumers: new ConsumerService(ctx), admin: new AdminService(ctx) };
  return { store, longPolls, gate, ctx, services, log };
}
