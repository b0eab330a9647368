// The broker process without its shell: opens the store, loads topic configs, starts replication
// (master: serves it; slave: copies the master), serves BrokerService over gRPC, registers with
// every nameserver, exposes /healthz /readyz /metrics, and stops cleanly. `Broker.start` resolves once the gRPC port is bound and the first
// registration round has run; /readyz is 200 once at least one nameserver accepted this broker.
import * as grpc from '@grpc/grpc-js';
import { formatHostPort } from '../common/addresses.js';
import { SERVER_OPTIONS, bindServer, shutdownServer } from '../common/grpc.js';
import { createMetricsRegistry, startOpsServer, type OpsServer } from '../common/http.js';
import type { Logger } from '../common/logging.js';
import { BrokerService, ReplicationService } from '../proto/index.js';
import { Appender } from './append/appender.js';
import { SystemTopics } from './append/system-topics.js';
import type { BrokerConfig } from './config.js';
import { ConsumerGroupTable } from './consumers/consumer-groups.js';
import { rebuildDedupWindow, type QueueRef } from './dedup/window-rebuild.js';
import { LongPollTable } from './consumers/long-poll.js';
import { createBrokerMetrics, type BrokerMetrics } from './metrics.js';
import { Registration } from './registration/registration.js';
import { startBrokerReplication, type BrokerReplication } from './replication/index.js';
import { AdminService } from './services/admin.js';
import { ConsumerService } from './services/consumers.js';
import { isMaster, type BrokerIdentity, type ServiceContext } from './services/context.js';
import { createBrokerHandlers } from './services/handlers.js';
import { RequestGate } from './services/request-runner.js';
import { OffsetService } from './services/offsets.js';
import { PullService } from './services/pull.js';
import { withEncodedPullResponses } from './services/pull-response.js';
import { withStreamCodecs } from './services/stream-codecs.js';
import { SendService } from './services/send.js';
import { checkOpenFilesPlan, MessageStore, planOpenFilesForProcess } from './store/index.js';
import { TopicManager } from './topics/topics.js';

/** How long shutdown waits for in-flight calls (held pulls are answered at once) before going on. */
export const DRAIN_TIMEOUT_MS = 5_000;
/** After draining, how long the gRPC server may take to close before its calls are cancelled. */
export const SERVER_SHUTDOWN_GRACE_MS = 2_000;

export interface BrokerStartOptions {
  log: Logger;
  clock?: () => number;
}

export class Broker {
  private stopping: Promise<void> | undefined;
  private announced = false;

  private constructor(
    readonly config: BrokerConfig,
    readonly identity: BrokerIdentity,
    readonly port: number,
    readonly httpPort: number,
    private readonly parts: {
      log: Logger;
      store: MessageStore;
      server: grpc.Server;
      ops: OpsServer;
      gate: RequestGate;
      longPolls: LongPollTable;
      registration: Registration;
      replication: BrokerReplication;
      unsubscribeDispatch: () => void;
      metrics: BrokerMetrics;
    },
  ) {}

  /** Able to serve: store open, gRPC bound, registered with at least one nameserver, not stopping. */
  get ready(): boolean {
    return this.stopping === undefined && this.parts.registration.ready;
  }

  static async start(config: BrokerConfig, options: BrokerStartOptions): Promise<Broker> {
    const clock = options.clock ?? Date.now;
    const log = options.log;
    const identity: BrokerIdentity = { clusterName: config.clusterName, brokerName: config.brokerName, brokerId: config.brokerId, flushMode: config.flushMode, replicationMode: config.replicationMode };
    const registry = createMetricsRegistry(`${config.brokerName}-${config.brokerId}`, { gcMetrics: config.gcMetrics });
    let broker: Broker | undefined;
    let replication: BrokerReplication | undefined;
    let store: MessageStore | undefined;
    const ops = await startOpsServer({
      host: config.host,
      port: config.httpPort,
      registry,
      isReady: () => broker?.ready ?? false,
      status: () => ({
        role: isMaster(identity) ? 'master' : 'slave',
        clusterName: identity.clusterName,
        brokerName: identity.brokerName,
        brokerId: identity.brokerId,
        port: broker?.port,
        replicationMode: identity.replicationMode,
        maxPhysicalOffset: store?.maxPhysicalOffset,
        ...replication?.status(),
      }),
      log: log.child({ component: 'ops-http' }),
    });
    const closeOnFailure: Array<() => Promise<unknown>> = [() => ops.close()];
    try {
      const openFiles = planOpenFilesForProcess(config.openFilesMax === 0 ? undefined : config.openFilesMax);
      checkOpenFilesPlan(openFiles, log);
      const opened = await MessageStore.open({
        dataDir: config.dataDir,
        openFilesMax: openFiles.budget,
        segmentBytes: config.segmentBytes,
        flushMode: config.flushMode,
        flushIntervalMs: config.flushIntervalMs,
        retentionHours: config.retentionHours,
        clock,
        log,
      });
      store = opened;
      closeOnFailure.unshift(() => opened.close());

      let registration: Registration | undefined;
      const topics = new TopicManager({
        meta: opened.meta,
        autoCreateTopics: config.autoCreateTopics,
        defaultQueueCount: config.defaultQueueCount,
        onChange: () => {
          replication?.configsChanged();
          return registration?.topicsChanged();
        },
        log: log.child({ component: 'topics' }),
      });
      const topicCount = await topics.load();
      const started = startBrokerReplication({
        config,
        store: opened,
        topics,
        log,
        clock,
      });
      replication = started;
      closeOnFailure.unshift(() => started.close());
      const gate = new RequestGate();
      const rebuildStartedMs = Date.now();
      const rebuilt = await rebuildDedupWindow(opened, storedQueues(topics), { windowMs: config.dedupWindowMs, nowMs: clock() });
      const dedup = rebuilt.window;
      log.info({ ...rebuilt.report, dedupEntries: dedup.size, dedupRuns: dedup.runCount, durationMs: Date.now() - rebuildStartedMs }, 'de-duplication window rebuilt from the log tail');
      const longPolls = new LongPollTable();
      const metrics = createBrokerMetrics(registry, {
        store: { minPhysicalOffset: () => opened.minPhysicalOffset, maxPhysicalOffset: () => opened.maxPhysicalOffset, flushedPhysicalOffset: () => opened.flushedPhysicalOffset },
        dedupEntries: () => dedup.size,
        topicCount: () => topics.size,
        longPollWaiting: () => longPolls.size,
        inFlightRequests: () => gate.inFlight,
        replication: started,
      });
      const appender = new Appender({ store: opened, identity, replication: started, metrics });
      const ctx: ServiceContext = {
        identity,
        store: opened,
        appender,
        systemTopics: new SystemTopics({ topics, appender, store: opened }),
        topics,
        consumers: new ConsumerGroupTable({ expiryMs: config.consumerExpiryMs }),
        dedup,
        longPolls,
        metrics,
        replication: started,
        longPollMaxMs: config.longPollMaxMs,
        clock,
        isStopping: () => gate.isClosed,
        log: log.child({ component: 'services' }),
      };
      const unsubscribeDispatch = opened.onDispatch((topic, queueId, maxQueueOffset) => {
        longPolls.notify(topic, queueId, maxQueueOffset);
      });
      closeOnFailure.unshift(async () => unsubscribeDispatch());

      const server = new grpc.Server(SERVER_OPTIONS);
      const services = { send: new SendService(ctx), pull: new PullService(ctx), offsets: new OffsetService(ctx), consumers: new ConsumerService(ctx), admin: new AdminService(ctx) };
      // Pull answers arrive encoded (pull-response.ts): the serializer passes them through.
      server.addService(withStreamCodecs(withEncodedPullResponses(BrokerService)), createBrokerHandlers(services, gate, metrics, log.child({ component: 'rpc' })));
      // Replication shares the broker's gRPC port (no separate HA port): slaves dial the address the master registers.
      if (started.handlers !== undefined) server.addService(ReplicationService, started.handlers);
      const port = await bindServer(server, config.host, config.port);
      closeOnFailure.unshift(() => shutdownServer(server, 0));
      log.info({ port, httpPort: ops.port, role: started.role, replicationMode: config.replicationMode, topics: topicCount, maxPhysicalOffset: opened.maxPhysicalOffset }, 'broker listening');

      const brokerAddress = formatHostPort(config.advertisedHost, port);
      const httpAddress = formatHostPort(config.advertisedHost, ops.port);
      registration = new Registration({
        nameservers: config.nameservers,
        intervalMs: config.registerIntervalMs,
        clock,
        log: log.child({ component: 'registration' }),
        describe: () => ({
          clusterName: identity.clusterName,
          brokerName: identity.brokerName,
          brokerId: identity.brokerId,
          brokerAddress,
          haAddress: started.role === 'master' ? brokerAddress : '',
          httpAddress,
        }),
        topics: () => topics.list().map((t) => ({ ...t })),
        onMasterAddress: (address) => started.masterAddressAnswered(address),
        awaitingMasterAddress: () => started.awaitingMasterAddress(),
        onRound: (nameserver, ok) => {
          metrics.registrations.inc({ nameserver, result: ok ? 'ok' : 'failed' });
          broker?.announceIfReady();
        },
      });
      const registered = registration;
      closeOnFailure.unshift(() => registered.stop({ unregister: false }));
      broker = new Broker(config, identity, port, ops.port, { log, store: opened, server, ops, gate, longPolls, registration, replication: started, unsubscribeDispatch, metrics });
      await registration.start();
      broker.announceIfReady();
      return broker;
    } catch (err) {
      for (const close of closeOnFailure) await close().catch(() => undefined);
      throw err;
    }
  }

  private announceIfReady(): void {
    if (this.announced || !this.ready) return;
    this.announced = true;
    this.parts.log.info({ port: this.port, httpPort: this.httpPort, brokerName: this.identity.brokerName, brokerId: this.identity.brokerId }, 'broker ready');
  }

  /**
   * Clean shutdown: refuse new calls (SHUTTING_DOWN), answer held pulls, wait for in-flight calls,
   * stop replication (master: end the slaves' streams; slave: stop copying), close the gRPC server,
   * close the store (flush), unregister from every nameserver, close HTTP.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const { log, gate, longPolls, server, store, registration, replication, ops, unsubscribeDispatch } = this.parts;
    gate.close();
    const held = longPolls.wakeAll();
    const drained = await gate.drained(DRAIN_TIMEOUT_MS);
    log.info({ heldPullsAnswered: held, drained, inFlight: gate.inFlight }, 'requests drained');
    // Sync sends still waiting are answered SLAVE_NOT_AVAILABLE; a slave's append in flight finishes.
    await replication.close();
    log.info({ role: replication.role }, 'replication stopped');
    await shutdownServer(server, SERVER_SHUTDOWN_GRACE_MS);
    unsubscribeDispatch();
    await store.close();
    log.info({ maxPhysicalOffset: store.maxPhysicalOffset }, 'store closed');
    await registration.stop({ unregister: true });
    await ops.close();
  }
}

/** Every queue of every topic (the de-duplication rebuild reads the ones holding in-window records). */
function storedQueues(topics: TopicManager): QueueRef[] {
  const queues: QueueRef[] = [];
  for (const topic of topics.list()) {
    const queueCount = Math.max(topic.readQueueCount, topic.writeQueueCount);
    for (let queueId = 0; queueId < queueCount; queueId++) queues.push({ topic: topic.topicName, queueId });
  }
  return queues;
}
