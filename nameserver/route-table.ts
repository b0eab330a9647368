// The nameserver's whole state, as pure logic: live brokers, their topic layouts, and the routes
// assembled from them. No I/O and no timers; the clock is injected. The gRPC service and the
// expiry scan timer wrap it (nameserver/service.ts, nameserver/main.ts). Rules: docs/nameserver.md.
import { parseHostPort } from '../common/addresses.js';
import type { DataVersion } from '../common/data-version.js';
import { ConveyorError, ErrorCode, assert } from '../common/errors.js';
import { validateName } from '../common/names.js';
import { decideRegistration, type RegistrationChange } from './registration-decision.js';

export type { DataVersion, RegistrationChange };

/** Default silence after which a broker is dropped: three missed 10 s heartbeats. */
export const BROKER_EXPIRY_MS_DEFAULT = 30_000;

/**
 * Live brokers one nameserver holds. A real cluster has tens; the cap only stops a misbehaving
 * client that registers made-up names from growing the table without bound.
 */
export const BROKERS_MAX = 4_096;

/** Topics in one registration: far above any real broker, well inside the 64 MiB gRPC message limit. */
export const TOPICS_PER_BROKER_MAX = 65_536;

/** Queues per topic per broker group, read or write (RocketMQ's default is 8; 1024 is generous). */
export const QUEUE_COUNT_MAX = 1_024;

/** Permission bits as RocketMQ: 4 = readable, 2 = writable, 1 = inherit. */
export const PERM_READ = 4;
export const PERM_WRITE = 2;
export const PERM_MAX = 7;

/** One topic as a broker group serves it. */
export interface TopicLayout {
  topicName: string;
  readQueueCount: number;
  writeQueueCount: number;
  perm: number;
  ordered: boolean;
}

export interface BrokerRegistration {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  brokerAddress: string;
  /** host:port slaves replicate from; masters only, may be empty. */
  haAddress: string;
  /** host:port of the broker's /healthz, /readyz, /metrics; may be empty. */
  httpAddress: string;
  /** The whole topic table at `dataVersion`; null for a light heartbeat (the version alone). */
  topics: readonly TopicLayout[] | null;
  dataVersion: DataVersion;
}

export interface BrokerIdentity {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  /** When given, only a broker registered at this address is removed (a stale process cannot remove its successor). */
  brokerAddress: string;
}

export interface RegisterResult {
  /** What the registration changed (the shell logs by it); `topics-wanted` changed nothing. */
  change: RegistrationChange;
  /** The group's live master (id 0), or '' when it has none. */
  masterAddress: string;
  masterHaAddress: string;
  /** The address this broker id was registered at before, when a new process took it over. */
  replacedAddress?: string;
}

/** A live broker as the table holds it. */
export interface BrokerEntry extends Omit<BrokerRegistration, 'topics'> {
  topics: ReadonlyMap<string, TopicLayout>;
  lastUpdateMs: number;
}

export interface QueueRoute {
  brokerName: string;
  readQueueCount: number;
  writeQueueCount: number;
  perm: number;
}

export interface BrokerGroupRoute {
  clusterName: string;
  brokerName: string;
  /** Sorted by broker id; id 0 is the master. */
  addresses: Array<{ brokerId: number; address: string }>;
}

export interface TopicRoute {
  topic: string;
  /** Sorted by broker name. */
  queues: QueueRoute[];
  /** Sorted by broker name. */
  brokers: BrokerGroupRoute[];
}

export interface RouteTableStats {
  brokers: number;
  brokerGroups: number;
  topics: number;
}

export interface RouteTableOptions {
  brokerExpiryMs: number;
  /** Milliseconds since the epoch; Date.now in the process, a fake in tests. */
  now: () => number;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(message: string, fields: Record<string, string | number>): ConveyorError {
  return new ConveyorError(ErrorCode.INVALID_ARGUMENT, message, fields);
}

/** Checks a registration completely before anything changes; returns its topics by name (null for a light heartbeat). */
function validateRegistration(reg: BrokerRegistration): Map<string, TopicLayout> | null {
  validateName('cluster', reg.clusterName);
  validateName('broker', reg.brokerName);
  if (!Number.isSafeInteger(reg.brokerId) || reg.brokerId < 0) {
    throw invalid(`invalid broker id ${reg.brokerId} for broker '${reg.brokerName}': use 0 for the master and 1, 2, … for slaves`, { brokerName: reg.brokerName, brokerId: reg.brokerId });
  }
  parseHostPort(reg.brokerAddress, 'broker address');
  if (reg.haAddress !== '') parseHostPort(reg.haAddress, 'ha address');
  if (reg.httpAddress !== '') parseHostPort(reg.httpAddress, 'http address');
  if (reg.topics === null) return null;
  if (reg.topics.length > TOPICS_PER_BROKER_MAX) {
    throw invalid(`broker '${reg.brokerName}' registered ${reg.topics.length} topics; at most ${TOPICS_PER_BROKER_MAX} are allowed`, { brokerName: reg.brokerName, topics: reg.topics.length });
  }
  const topics = new Map<string, TopicLayout>();
  for (const topic of reg.topics) {
    validateName('topic', topic.topicName);
    if (topics.has(topic.topicName)) {
      throw invalid(`broker '${reg.brokerName}' registered topic '${topic.topicName}' twice`, { brokerName: reg.brokerName, topic: topic.topicName });
    }
    for (const [what, count] of [['read', topic.readQueueCount], ['write', topic.writeQueueCount]] as const) {
      if (!Number.isInteger(count) || count < 0 || count > QUEUE_COUNT_MAX) {
        throw invalid(`topic '${topic.topicName}' on broker '${reg.brokerName}' has ${what} queue count ${count}; it must be 0 to ${QUEUE_COUNT_MAX}`, { topic: topic.topicName, [`${what}QueueCount`]: count });
      }
    }
    if (!Number.isInteger(topic.perm) || topic.perm < 0 || topic.perm > PERM_MAX) {
      throw invalid(`topic '${topic.topicName}' on broker '${reg.brokerName}' has permission ${topic.perm}; it must be 0 to ${PERM_MAX} (4 = read, 2 = write, 6 = both)`, { topic: topic.topicName, perm: topic.perm });
    }
    topics.set(topic.topicName, { ...topic });
  }
  return topics;
}

/**
 * Live brokers by broker name, then broker id. A broker is live while its last registration is at
 * most `brokerExpiryMs` old; every read filters on that, so an expired broker never shows up, even
 * before `expire()` removes it.
 */
export class RouteTable {
  private readonly groups = new Map<string, Map<number, BrokerEntry>>();
  private readonly brokerExpiryMs: number;
  private readonly now: () => number;

  constructor(options: RouteTableOptions) {
    assert(Number.isSafeInteger(options.brokerExpiryMs) && options.brokerExpiryMs > 0, 'brokerExpiryMs must be a positive integer');
    this.brokerExpiryMs = options.brokerExpiryMs;
    this.now = options.now;
  }

  /**
   * Registration and heartbeat in one (registration-decision.ts): a new broker (or one that had
   * expired) is added with its topics; a known broker with the same data version only refreshes
   * its liveness; a full table at a changed data version replaces its topics; a light heartbeat
   * this table cannot match changes nothing and is answered `topics-wanted`. Bad input throws and
   * changes nothing.
   */
  register(reg: BrokerRegistration): RegisterResult {
    const topics = validateRegistration(reg);
    const now = this.now();
    const group = this.groups.get(reg.brokerName);
    const previous = group?.get(reg.brokerId);
    const previousLive = previous !== undefined && this.isLive(previous, now);
    this.checkClusterConflict(reg, now);
    const change = decideRegistration(previousLive ? previous.dataVersion : undefined, { dataVersion: reg.dataVersion, fullTopicTable: topics !== null });
    if (change === 'topics-wanted') {
      // Not even liveness: a broker whose full registrations keep failing must still expire.
      const master = group === undefined ? undefined : this.liveMaster(group, now);
      return { change, masterAddress: master?.brokerAddress ?? '', masterHaAddress: master?.haAddress ?? '' };
    }
    if (!previousLive && this.entryCount() >= BROKERS_MAX && this.liveCount(now) >= BROKERS_MAX) {
      throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `nameserver already holds the maximum of ${BROKERS_MAX} live brokers; broker '${reg.brokerName}' id ${reg.brokerId} was not registered`, { brokerName: reg.brokerName, brokerId: reg.brokerId, brokersMax: BROKERS_MAX });
    }

    // Validation done: from here on the registration is applied in full.
    const layouts = topics ?? previous?.topics;
    assert(layouts !== undefined, 'a light heartbeat is applied only to a live entry that holds its data version');
    const entry: BrokerEntry = {
      clusterName: reg.clusterName,
      brokerName: reg.brokerName,
      brokerId: reg.brokerId,
      brokerAddress: reg.brokerAddress,
      haAddress: reg.haAddress,
      httpAddress: reg.httpAddress,
      dataVersion: { ...reg.dataVersion },
      topics: layouts,
      lastUpdateMs: now,
    };
    const members = group ?? new Map<number, BrokerEntry>();
    // The same process re-registering under another id (e.g. re-configured from slave to master).
    for (const [id, other] of members) {
      if (id !== reg.brokerId && other.brokerAddress === reg.brokerAddress) members.delete(id);
    }
    members.set(reg.brokerId, entry);
    this.groups.set(reg.brokerName, members);

    const master = this.liveMaster(members, now);
    const result: RegisterResult = { change, masterAddress: master?.brokerAddress ?? '', masterHaAddress: master?.haAddress ?? '' };
    if (previousLive && previous.brokerAddress !== reg.brokerAddress) result.replacedAddress = previous.brokerAddress;
    return result;
  }

  /** Removes one broker; returns false (and changes nothing) when no such broker is registered. */
  unregister(who: BrokerIdentity): boolean {
    validateName('cluster', who.clusterName);
    validateName('broker', who.brokerName);
    if (!Number.isSafeInteger(who.brokerId) || who.brokerId < 0) {
      throw invalid(`invalid broker id ${who.brokerId} for broker '${who.brokerName}': use 0 for the master and 1, 2, … for slaves`, { brokerName: who.brokerName, brokerId: who.brokerId });
    }
    const members = this.groups.get(who.brokerName);
    const entry = members?.get(who.brokerId);
    if (!members || !entry) return false;
    if (who.brokerAddress !== '' && who.brokerAddress !== entry.brokerAddress) return false;
    members.delete(who.brokerId);
    if (members.size === 0) this.groups.delete(who.brokerName);
    return true;
  }

  /** Drops every broker silent for longer than the expiry; returns them (for logging and metrics). */
  expire(): BrokerEntry[] {
    const now = this.now();
    const expired: BrokerEntry[] = [];
    for (const [brokerName, members] of this.groups) {
      for (const [id, entry] of members) {
        if (!this.isLive(entry, now)) {
          expired.push(entry);
          members.delete(id);
        }
      }
      if (members.size === 0) this.groups.delete(brokerName);
    }
    return expired;
  }

  /** The route of one topic across every live broker group serving it; TOPIC_NOT_FOUND if none does. */
  route(topic: string): TopicRoute {
    validateName('topic', topic);
    const now = this.now();
    const queues: QueueRoute[] = [];
    const brokers: BrokerGroupRoute[] = [];
    for (const brokerName of [...this.groups.keys()].sort(compareStrings)) {
      const live = this.liveMembers(brokerName, now);
      const source = live[0];
      const layout = source?.topics.get(topic);
      if (!source || !layout) continue;
      queues.push({ brokerName, readQueueCount: layout.readQueueCount, writeQueueCount: layout.writeQueueCount, perm: layout.perm });
      brokers.push({ clusterName: source.clusterName, brokerName, addresses: live.map((b) => ({ brokerId: b.brokerId, address: b.brokerAddress })) });
    }
    if (queues.length === 0) {
      throw new ConveyorError(
        ErrorCode.TOPIC_NOT_FOUND,
        `no live broker serves topic '${topic}': create it with \`conveyor topic create\`, or check that the brokers serving it are running and registered with this nameserver`,
        { topic },
      );
    }
    return { topic, queues, brokers };
  }

  /** Every live broker, sorted by cluster name, broker name, broker id. */
  liveBrokers(): BrokerEntry[] {
    const now = this.now();
    const out: BrokerEntry[] = [];
    for (const brokerName of this.groups.keys()) out.push(...this.liveMembers(brokerName, now));
    return out.sort((a, b) => compareStrings(a.clusterName, b.clusterName) || compareStrings(a.brokerName, b.brokerName) || a.brokerId - b.brokerId);
  }

  /** Every topic some live broker group serves, sorted. */
  topicList(): string[] {
    const now = this.now();
    const topics = new Set<string>();
    for (const brokerName of this.groups.keys()) {
      const source = this.liveMembers(brokerName, now)[0];
      if (source) for (const name of source.topics.keys()) topics.add(name);
    }
    return [...topics].sort(compareStrings);
  }

  stats(): RouteTableStats {
    const now = this.now();
    let brokers = 0;
    let brokerGroups = 0;
    for (const brokerName of this.groups.keys()) {
      const live = this.liveMembers(brokerName, now);
      brokers += live.length;
      if (live.length > 0) brokerGroups += 1;
    }
    return { brokers, brokerGroups, topics: this.topicList().length };
  }

  private isLive(entry: BrokerEntry, now: number): boolean {
    return now - entry.lastUpdateMs <= this.brokerExpiryMs;
  }

  /**
   * A group's live brokers sorted by id. The first one is the group's layout source: the master
   * when it is live, otherwise the live slave with the lowest id, so consumers still find the slave.
   */
  private liveMembers(brokerName: string, now: number): BrokerEntry[] {
    const members = this.groups.get(brokerName);
    if (!members) return [];
    return [...members.values()].filter((b) => this.isLive(b, now)).sort((a, b) => a.brokerId - b.brokerId);
  }

  private liveMaster(members: ReadonlyMap<number, BrokerEntry>, now: number): BrokerEntry | undefined {
    const master = members.get(0);
    return master && this.isLive(master, now) ? master : undefined;
  }

  /** Entries including expired ones not yet scanned: a cheap upper bound of liveCount. */
  private entryCount(): number {
    let count = 0;
    for (const members of this.groups.values()) count += members.size;
    return count;
  }

  private liveCount(now: number): number {
    let count = 0;
    for (const members of this.groups.values()) for (const b of members.values()) if (this.isLive(b, now)) count += 1;
    return count;
  }

  /** A broker group belongs to one cluster; another live member elsewhere means a misconfiguration. */
  private checkClusterConflict(reg: BrokerRegistration, now: number): void {
    const members = this.groups.get(reg.brokerName);
    if (!members) return;
    for (const other of members.values()) {
      if (other.brokerId === reg.brokerId || other.clusterName === reg.clusterName || !this.isLive(other, now)) continue;
      throw invalid(
        `broker group '${reg.brokerName}' is already registered in cluster '${other.clusterName}' (broker id ${other.brokerId} at ${other.brokerAddress}); broker id ${reg.brokerId} says cluster '${reg.clusterName}': broker names must be unique across clusters`,
        { brokerName: reg.brokerName, clusterName: reg.clusterName, registeredCluster: other.clusterName },
      );
    }
  }
}
