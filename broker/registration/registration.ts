// Registration with every nameserver: one RegisterBroker per nameserver per round, a round on an
// interval (the heartbeat) and at once when the topic configs change. Topic changes bump the data
// version of the topic table; a nameserver gets the whole table only when it has not acknowledged
// the current version or asks for it (topic_table_wanted), and otherwise a light heartbeat with
// the version alone (the decision: topic-table-sync.ts). On a clean shutdown the broker
// unregisters so routes drop it without waiting for expiry. A nameserver entry may be a DNS name:
// every round works on its current addresses (re-resolved on an interval), so a nameserver added
// behind the name is registered with without a restart.
import * as grpc from '@grpc/grpc-js';
import { dataVersionFromWire, newEpoch, sameDataVersion, type DataVersion } from '../../common/data-version.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';
import { NameserverList } from '../../common/nameserver-list.js';
import { NameServerService, type conveyor } from '../../proto/index.js';
import { TopicTableSync } from './topic-table-sync.js';

/** Deadline of one RegisterBroker call: a nameserver slower than this counts as down for the round. */
const REGISTER_DEADLINE_MS = 3_000;
/** Deadline of one UnregisterBroker call on shutdown: shutdown must not hang on a dead nameserver. */
const UNREGISTER_DEADLINE_MS = 2_000;
/** Round interval until the first success: a starting broker becomes ready soon after a nameserver does. */
const REGISTER_RETRY_MS = 1_000;

interface RegistrationOptions {
  /** host:port entries; a host may be a DNS name resolving to several nameservers. */
  nameservers: readonly string[];
  intervalMs: number;
  /** How often DNS names are resolved again (default NAMESERVER_RESOLVE_INTERVAL_MS_DEFAULT). */
  resolveIntervalMs?: number;
  /** DNS lookup, injectable for tests. */
  lookup?: (host: string) => Promise<string[]>;
  /** Everything of RegisterBrokerRequest but the topic table and its version, built fresh for each round. */
  describe: () => Omit<conveyor.IRegisterBrokerRequest, 'dataVersion' | 'topics' | 'fullTopicTable'>;
  /** The whole topic table; read only for a full registration, once per data version. */
  topics: () => conveyor.ITopicConfig[];
  clock: () => number;
  /** Data-version epoch of this process; random by default (injectable for tests). */
  epoch?: number;
  log: Logger;
  onRound?: (nameserver: string, ok: boolean) => void;
  /**
   * A nameserver named this broker group's master (for a slave): its replication address, else its
   * broker address. Called on every answer that names one; empty answers (no master registered)
   * are not reported, so a slave keeps retrying the master it knew.
   */
  onMasterAddress?: (address: string) => void;
  /**
   * While true (a slave that no answer has named its master to yet), rounds come every
   * REGISTER_RETRY_MS instead of intervalMs: the master may register a moment after the slave.
   */
  awaitingMasterAddress?: () => boolean;
}

/** What `describe` returns: the request without its topic table. */
type Described = ReturnType<RegistrationOptions['describe']>;

export class Registration {
  private readonly nameservers: NameserverList;
  private readonly clients = new Map<string, grpc.Client>();
  private readonly lastOk = new Map<string, boolean>();
  private readonly topicTable: TopicTableSync;
  /** The topic table read for the last full registration, and the version it belongs to. */
  private fullTopics: { version: DataVersion; topics: conveyor.ITopicConfig[] } | undefined;
  private everSucceeded = false;
  private firstRoundDone = false;
  private roundInFlight: Promise<void> | undefined;
  private roundAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: RegistrationOptions) {
    this.nameservers = new NameserverList({
      nameservers: options.nameservers,
      resolveIntervalMs: options.resolveIntervalMs,
      lookup: options.lookup,
      now: options.clock,
      log: options.log,
    });
    this.topicTable = new TopicTableSync({ epoch: options.epoch ?? newEpoch(), clock: options.clock });
    this.syncClients(this.nameservers.addresses);
  }

  /** First round done and at least one nameserver has accepted this broker. */
  get ready(): boolean {
    return this.firstRoundDone && this.everSucceeded;
  }

  get currentDataVersion(): Readonly<DataVersion> {
    return this.topicTable.version;
  }

  /** Runs the first round (resolves when every nameserver answered or failed), then heartbeats. */
  async start(): Promise<void> {
    await this.registerNow();
    this.firstRoundDone = true;
    this.schedule();
  }

  /** Topic configs changed: new data version, and a round now. Resolves when that round is done. */
  topicsChanged(): Promise<void> {
    this.topicTable.changed();
    return this.registerNow();
  }

  /** Runs a round now; a call during a round makes one more round after it (coalesced). */
  registerNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.roundInFlight !== undefined) {
      this.roundAgain = true;
      return this.roundInFlight;
    }
    const run = async (): Promise<void> => {
      do {
        this.roundAgain = false;
        await this.round();
      } while (this.roundAgain && !this.stopped);
    };
    this.roundInFlight = run().finally(() => {
      this.roundInFlight = undefined;
    });
    return this.roundInFlight;
  }

  /** Stops heartbeating; with `unregister`, tells every nameserver this broker is gone. */
  async stop(options: { unregister: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.roundInFlight;
    if (options.unregister) await this.unregisterAll();
    for (const client of this.clients.values()) client.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    const soon = !this.everSucceeded || this.options.awaitingMasterAddress?.() === true;
    const delay = soon ? Math.min(REGISTER_RETRY_MS, this.options.intervalMs) : this.options.intervalMs;
    this.timer = setTimeout(() => {
      void this.registerNow().finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  /** Opens a channel for every address of the list and closes those no longer in it. */
  private syncClients(addresses: readonly string[]): void {
    for (const address of addresses) {
      if (!this.clients.has(address)) this.clients.set(address, new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    }
    for (const [address, client] of this.clients) {
      if (addresses.includes(address)) continue;
      client.close();
      this.clients.delete(address);
      this.lastOk.delete(address);
      this.topicTable.forget(address);
      this.options.log.info({ nameserver: address }, 'nameserver address gone from the list');
    }
  }

  private async round(): Promise<void> {
    try {
      this.syncClients(await this.nameservers.resolveIfDue());
    } catch (err) {
      // Nothing resolved yet: the round fails like an unreachable nameserver and retries soon.
      this.options.log.warn({ err }, 'no nameserver address resolved');
      return;
    }
    const described = this.options.describe();
    await Promise.all([...this.clients].map(([address, client]) => this.registerWith(address, client, described)));
  }

  /**
   * One nameserver's part of a round: a light heartbeat or the full table (TopicTableSync.plan),
   * and the full table at once when a light heartbeat's answer asks for it.
   */
  private async registerWith(address: string, client: grpc.Client, described: Described): Promise<void> {
    let ok = false;
    let request = this.topicTable.plan(address) === 'full' ? this.fullRequest(described) : this.lightRequest(described);
    try {
      let response = await callUnary(client, NameServerService.registerBroker, request, REGISTER_DEADLINE_MS, address);
      let after = this.topicTable.answered(address, dataVersionFromWire(request.dataVersion), response.topicTableWanted);
      if (after === 'send-full' && request.fullTopicTable !== true) {
        this.options.log.info({ nameserver: address, dataVersion: request.dataVersion }, 'nameserver asked for the full topic table');
        request = this.fullRequest(described);
        response = await callUnary(client, NameServerService.registerBroker, request, REGISTER_DEADLINE_MS, address);
        after = this.topicTable.answered(address, dataVersionFromWire(request.dataVersion), response.topicTableWanted);
      }
      // Asked for the table it was just sent: out of step (TopicTableSync forgot it, so the next round sends it again).
      if (after === 'send-full') this.options.log.warn({ nameserver: address, dataVersion: request.dataVersion }, 'nameserver asked for the full topic table it was just sent');
      ok = true;
      this.everSucceeded = true;
      const master = response.masterHaAddress || response.masterAddress;
      if (master !== '' && !this.stopped) this.options.onMasterAddress?.(master);
    } catch (err) {
      this.topicTable.failed(address);
      const log = this.lastOk.get(address) === false ? this.options.log.debug.bind(this.options.log) : this.options.log.warn.bind(this.options.log);
      log({ nameserver: address, err }, 'registration failed');
    }
    if (ok && this.lastOk.get(address) !== true) this.options.log.info({ nameserver: address, dataVersion: request.dataVersion, topics: request.topics?.length ?? 0 }, 'registered with nameserver');
    this.lastOk.set(address, ok);
    this.options.onRound?.(address, ok);
  }

  /** A heartbeat with the data version alone: the nameserver already holds the table at that version. */
  private lightRequest(described: Described): conveyor.IRegisterBrokerRequest {
    return { ...described, dataVersion: { ...this.topicTable.version }, fullTopicTable: false, topics: [] };
  }

  /** The whole topic table at the current version (read once per version, shared by every nameserver). */
  private fullRequest(described: Described): conveyor.IRegisterBrokerRequest {
    const version = this.topicTable.version;
    if (this.fullTopics === undefined || !sameDataVersion(this.fullTopics.version, version)) {
      this.fullTopics = { version: { ...version }, topics: this.options.topics() };
    }
    return { ...described, dataVersion: { ...version }, fullTopicTable: true, topics: this.fullTopics.topics };
  }

  private async unregisterAll(): Promise<void> {
    const described = this.options.describe();
    const request: conveyor.IUnregisterBrokerRequest = {
      clusterName: described.clusterName,
      brokerName: described.brokerName,
      brokerId: described.brokerId,
      brokerAddress: described.brokerAddress,
    };
    await Promise.all(
      [...this.clients].map(async ([address, client]) => {
        try {
          await callUnary(client, NameServerService.unregisterBroker, request, UNREGISTER_DEADLINE_MS, address);
          this.options.log.info({ nameserver: address }, 'unregistered from nameserver');
        } catch (err) {
          this.options.log.warn({ nameserver: address, err }, 'unregister failed');
        }
      }),
    );
  }
}
