// Administration: topics (create on every master of the cluster, list, describe with per-queue
// ranges, delete), consumer groups (list, describe with committed offset, max offset and lag per
// queue), cluster status, and message lookup by id or key on every broker group.
import type { Logger } from '../../common/logging.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { ClientMethod } from '../../common/grpc.js';
import { validateName } from '../../common/names.js';
import { BrokerService, type conveyor } from '../../proto/index.js';
import { ClientContext, clientLogger, requireRunning, type ClientOptions, type LifecycleState } from '../client-context.js';
import { messagesFromRecords, type Message } from '../message.js';
import { codeOf, isUnreachable } from '../retry-policy.js';
import { compareQueues, MASTER_BROKER_ID, PERM_READ_WRITE, readableQueues, type RouteBrokerData, type RouteQueueData } from '../routing/route.js';

export const TOPIC_QUEUES_DEFAULT = 8;
/** Same bound as the broker's (broker/validate.ts). */
export const TOPIC_QUEUES_MAX = 1_024;
/** createTopic waits this long for the nameservers to route the new topic. */
const CREATE_TOPIC_ROUTE_WAIT_MS_DEFAULT = 15_000;
const ROUTE_POLL_INTERVAL_MS = 200;
/** Messages one lookup returns at most. */
const QUERY_MESSAGES_MAX = 64;

export interface CreateTopicOptions {
  /** Read and write queues per broker group (default 8). */
  queues?: number;
  /** Permission bits: 6 read+write (default), 4 read-only, 2 write-only. */
  perm?: number;
  /** Broker group names to create it on (default: every master of the cluster). */
  brokers?: string[];
  /** Wait until the nameservers route the topic on those brokers (default 15000 ms; 0 = do not wait). */
  routeWaitMs?: number;
}

export interface CreateTopicResult {
  topic: string;
  brokers: string[];
  queues: number;
  /** The nameservers route the topic on every one of `brokers` (false when the wait timed out). */
  routed: boolean;
}

export interface QueueDescription {
  brokerName: string;
  queueId: number;
  minOffset: number;
  maxOffset: number;
  lastStoreTimestampMs: number;
}

export interface TopicDescription {
  topic: string;
  brokers: Array<RouteQueueData & { clusterName: string; addresses: RouteBrokerData['addresses'] }>;
  queues: QueueDescription[];
}

export interface GroupQueueLag {
  topic: string;
  brokerName: string;
  queueId: number;
  /** Undefined: the group never committed on this queue. */
  committedOffset: number | undefined;
  maxOffset: number;
  /** maxOffset - committedOffset (maxOffset when nothing was committed). */
  lag: number;
}

export interface GroupDescription {
  group: string;
  /** Live member ids (clustering and broadcasting members that heartbeat). */
  members: string[];
  queues: GroupQueueLag[];
  totalLag: number;
}

export interface BrokerStatusEntry {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  role: string;
  address: string;
  haAddress: string;
  httpAddress: string;
  lastUpdateMs: number;
  /** False when the broker is registered but did not answer GetBrokerStatus. */
  reachable: boolean;
  maxPhysicalOffset?: number;
  replicationLagBytes?: number;
  replicationLagMs?: number;
  flushMode?: string;
  replicationMode?: string;
}

export type AdminOptions = ClientOptions;

interface BrokerGroup {
  brokerName: string;
  clusterName: string;
  /** Master first, then slaves by id. */
  addresses: string[];
  master: string | undefined;
}

export class Admin {
  private state: LifecycleState = 'created';
  private context: ClientContext | undefined;
  private readonly log: Logger;

  constructor(private readonly options: AdminOptions = {}) {
    this.log = clientLogger(options, 'admin');
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.context = new ClientContext(this.options, this.log);
    this.state = 'running';
  }

  async shutdown(): Promise<void> {
    if (this.state === 'running') this.context?.close();
    this.state = 'stopped';
  }

  /** Creates (or updates) a topic on every master of the cluster, or on the named broker groups. */
  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<CreateTopicResult> {
    const context = this.running();
    validateName('topic', name);
    const queues = options.queues ?? TOPIC_QUEUES_DEFAULT;
    if (!Number.isInteger(queues) || queues < 1 || queues > TOPIC_QUEUES_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `queue count must be a whole number from 1 to ${TOPIC_QUEUES_MAX}, got ${queues}`, { queues });
    }
    const perm = options.perm ?? PERM_READ_WRITE;
    if (![2, 4, 6].includes(perm)) throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `perm must be 6 (read+write), 4 (read) or 2 (write), got ${perm}`, { perm });
    const groups = await this.brokerGroups();
    const targets = options.brokers === undefined ? groups.filter((g) => g.master !== undefined) : options.brokers.map((b) => pickGroup(groups, b));
    if (targets.length === 0) throw new ConveyorError(ErrorCode.NO_ROUTE, 'no live master in the cluster to create the topic on', { topic: name });
    for (const group of targets) {
      if (group.master === undefined) throw new ConveyorError(ErrorCode.NO_ROUTE, `broker group '${group.brokerName}' has no live master`, { broker: group.brokerName });
      await context.connections.call(
        group.master,
        BrokerService.upsertTopic,
        { config: { topicName: name, readQueueCount: queues, writeQueueCount: queues, perm, ordered: false } },
        { deadlineMs: context.requestTimeoutMs },
      );
    }
    const brokers = targets.map((g) => g.brokerName).sort();
    const routed = await this.waitForRoute(name, brokers, options.routeWaitMs ?? CREATE_TOPIC_ROUTE_WAIT_MS_DEFAULT);
    return { topic: name, brokers, queues, routed };
  }

  async listTopics(): Promise<string[]> {
    const context = this.running();
    return [...(await context.discovery.getTopicList()).topics].sort();
  }

  /** The topic's route and, per queue, the stored range (from each broker group). */
  async describeTopic(name: string): Promise<TopicDescription> {
    const context = this.running();
    validateName('topic', name);
    const route = await context.routes.refresh(name);
    const brokers = route.queues.map((q) => {
      const data = route.brokers.find((b) => b.brokerName === q.brokerName);
      return { ...q, clusterName: data?.clusterName ?? '', addresses: data?.addresses ?? [] };
    });
    const queues: QueueDescription[] = [];
    for (const broker of brokers) {
      const stats = await this.callGroup(broker.addresses.map((a) => a.address), BrokerService.getTopicStats, { topic: name });
      for (const q of stats.queues) {
        queues.push({ brokerName: broker.brokerName, queueId: q.queueId ?? 0, minOffset: Number(q.minQueueOffset ?? 0), maxOffset: Number(q.maxQueueOffset ?? 0), lastStoreTimestampMs: Number(q.lastStoreTimestampMs ?? 0) });
      }
    }
    queues.sort((a, b) => compareQueues({ topic: name, ...a }, { topic: name, ...b }));
    return { topic: name, brokers, queues };
  }

  /** Deletes the topic on every master that has it. TOPIC_NOT_FOUND if none had it. */
  async deleteTopic(name: string): Promise<{ topic: string; brokers: string[] }> {
    const context = this.running();
    validateName('topic', name);
    const groups = (await this.brokerGroups()).filter((g) => g.master !== undefined);
    const deleted: string[] = [];
    for (const group of groups) {
      try {
        await context.connections.call(group.master as string, BrokerService.deleteTopic, { topic: name }, { deadlineMs: context.requestTimeoutMs });
        deleted.push(group.brokerName);
      } catch (err) {
        if (codeOf(err) !== ErrorCode.TOPIC_NOT_FOUND) throw err;
      }
    }
    if (deleted.length === 0) throw new ConveyorError(ErrorCode.TOPIC_NOT_FOUND, `topic '${name}' does not exist on any live master`, { topic: name });
    context.routes.refreshSoon(name);
    return { topic: name, brokers: deleted.sort() };
  }

  /** Every group any broker group knows (configured, or with committed offsets). */
  async listGroups(): Promise<string[]> {
    const groups = new Set<string>();
    for (const group of await this.brokerGroups()) {
      const answer = await this.callGroup(group.addresses, BrokerService.listGroups, {});
      for (const g of answer.groups) if (g.groupName) groups.add(g.groupName);
      for (const g of answer.groupsWithOffsets) groups.add(g);
    }
    return [...groups].sort();
  }

  /** Committed offset, max offset and lag per queue, and the live members. GROUP_NOT_FOUND if no broker knows the group. */
  async describeGroup(group: string, options: { topic?: string } = {}): Promise<GroupDescription> {
    validateName('consumer group', group);
    if (options.topic !== undefined) validateName('topic', options.topic);
    const queues: GroupQueueLag[] = [];
    const members = new Set<string>();
    for (const broker of await this.brokerGroups()) {
      const answer = await this.callGroup(broker.addresses, BrokerService.getGroupOffsets, { consumerGroup: group, topic: options.topic ?? '' });
      for (const o of answer.offsets) queues.push(lagOf(broker.brokerName, o));
      const list = await this.callGroup(broker.addresses, BrokerService.getConsumerList, { consumerGroup: group }).catch(() => undefined);
      for (const id of list?.clientIds ?? []) members.add(id);
    }
    if (queues.length === 0 && members.size === 0 && !(await this.listGroups()).includes(group)) {
      throw new ConveyorError(ErrorCode.GROUP_NOT_FOUND, `consumer group '${group}' is not known to any broker (no members, no committed offsets)`, { group });
    }
    queues.sort((a, b) => compareQueues(a, b));
    return { group, members: [...members].sort(), queues, totalLag: queues.reduce((sum, q) => sum + q.lag, 0) };
  }

  /** Every registered broker with its role, offsets and replication lag (when it answers). */
  async clusterStatus(): Promise<BrokerStatusEntry[]> {
    const context = this.running();
    const info = await context.discovery.getClusterInfo();
    return Promise.all(
      info.brokers.map(async (b): Promise<BrokerStatusEntry> => {
        const base = {
          clusterName: b.clusterName ?? '',
          brokerName: b.brokerName ?? '',
          brokerId: Number(b.brokerId ?? 0),
          role: Number(b.brokerId ?? 0) === MASTER_BROKER_ID ? 'master' : 'slave',
          address: b.brokerAddress ?? '',
          haAddress: b.haAddress ?? '',
          httpAddress: b.httpAddress ?? '',
          lastUpdateMs: Number(b.lastUpdateMs ?? 0),
        };
        try {
          const s = await context.connections.call(base.address, BrokerService.getBrokerStatus, {}, { deadlineMs: context.requestTimeoutMs });
          return { ...base, role: s.role || base.role, reachable: true, maxPhysicalOffset: Number(s.maxPhysicalOffset), replicationLagBytes: Number(s.replicationLagBytes), replicationLagMs: Number(s.replicationLagMs), flushMode: s.flushMode, replicationMode: s.replicationMode };
        } catch {
          return { ...base, reachable: false };
        }
      }),
    );
  }

  /** The message(s) stored with this id (a retry that hopped brokers can have stored it twice). MESSAGE_NOT_FOUND if none. */
  async getMessageById(messageId: string): Promise<Message[]> {
    if (messageId.length === 0) throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'give a message id to look up', {});
    return this.query({ messageId, maxCount: QUERY_MESSAGES_MAX }, `no message with id '${messageId}' on any broker`);
  }

  /** Messages of a topic carrying this key, newest stored first per broker (up to maxCount). MESSAGE_NOT_FOUND if none. */
  async getMessagesByKey(topic: string, key: string, maxCount = QUERY_MESSAGES_MAX): Promise<Message[]> {
    validateName('topic', topic);
    if (key.length === 0) throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'give a key to look up', {});
    return this.query({ topic, key, maxCount: Math.min(Math.max(1, maxCount), QUERY_MESSAGES_MAX) }, `no message with key '${key}' in topic '${topic}' on any broker`);
  }

  private async query(request: conveyor.IQueryMessageRequest, notFound: string): Promise<Message[]> {
    const out: Message[] = [];
    for (const group of await this.brokerGroups()) {
      try {
        const answer = await this.callGroup(group.addresses, BrokerService.queryMessage, request);
        out.push(...messagesFromRecords(answer.records, group.brokerName));
      } catch (err) {
        if (codeOf(err) !== ErrorCode.MESSAGE_NOT_FOUND && codeOf(err) !== ErrorCode.TOPIC_NOT_FOUND) throw err;
      }
    }
    if (out.length === 0) throw new ConveyorError(ErrorCode.MESSAGE_NOT_FOUND, notFound, { messageId: request.messageId ?? undefined, topic: request.topic ?? undefined, key: request.key ?? undefined });
    return out.sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.physicalOffset - b.physicalOffset));
  }

  private running(): ClientContext {
    requireRunning(this.state, 'admin');
    return this.context as ClientContext;
  }

  /** Live broker groups from the nameservers, each with its addresses (master first). */
  private async brokerGroups(): Promise<BrokerGroup[]> {
    const context = this.running();
    const info = await context.discovery.getClusterInfo();
    const groups = new Map<string, BrokerGroup>();
    for (const b of [...info.brokers].sort((x, y) => Number(x.brokerId ?? 0) - Number(y.brokerId ?? 0))) {
      const name = b.brokerName ?? '';
      const group = groups.get(name) ?? { brokerName: name, clusterName: b.clusterName ?? '', addresses: [], master: undefined };
      if (b.brokerAddress) group.addresses.push(b.brokerAddress);
      if (Number(b.brokerId ?? 0) === MASTER_BROKER_ID && b.brokerAddress) group.master = b.brokerAddress;
      groups.set(name, group);
    }
    return [...groups.values()].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  }

  /** A read-only call to one broker group: master first, then slaves, on unreachable errors only. */
  private async callGroup<Req, Res>(addresses: string[], method: ClientMethod<Req, Res>, request: Req): Promise<Res> {
    const context = this.running();
    let last: unknown = new ConveyorError(ErrorCode.NO_ROUTE, 'no live broker in this broker group', {});
    for (const address of addresses) {
      try {
        return await context.connections.call(address, method, request, { deadlineMs: context.requestTimeoutMs });
      } catch (err) {
        if (!isUnreachable(codeOf(err))) throw err;
        last = err;
      }
    }
    throw last;
  }

  private async waitForRoute(topic: string, brokers: readonly string[], waitMs: number): Promise<boolean> {
    const context = this.running();
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const route = await context.routes.refresh(topic);
        const routed = new Set(readableQueues(route).map((q) => q.brokerName));
        if (brokers.every((b) => routed.has(b))) return true;
      } catch (err) {
        if (codeOf(err) !== ErrorCode.TOPIC_NOT_FOUND) throw err;
      }
      if (Date.now() + ROUTE_POLL_INTERVAL_MS > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, ROUTE_POLL_INTERVAL_MS));
    }
  }
}

function pickGroup(groups: readonly BrokerGroup[], brokerName: string): BrokerGroup {
  validateName('broker', brokerName);
  const group = groups.find((g) => g.brokerName === brokerName);
  if (group === undefined) throw new ConveyorError(ErrorCode.BROKER_NOT_FOUND, `no live broker group named '${brokerName}' is registered`, { broker: brokerName });
  return group;
}

function lagOf(brokerName: string, o: conveyor.IGroupQueueOffset): GroupQueueLag {
  const committed = Number(o.committedOffset ?? -1);
  const max = Number(o.maxQueueOffset ?? 0);
  return {
    topic: o.topic ?? '',
    brokerName,
    queueId: o.queueId ?? 0,
    committedOffset: committed < 0 ? undefined : committed,
    maxOffset: max,
    lag: Math.max(0, committed < 0 ? max : max - committed),
  };
}
