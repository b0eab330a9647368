// Admin: topic and group configs, statistics, offsets per group, message lookup, broker status.
// Configs are changed on masters only (a slave copies them from its master: NOT_MASTER). System
// topics (common/names.ts SYSTEM_TOPIC_PREFIX) are the broker's own: no upsert or delete here
// (ACCESS_DENIED); stats and lookups cover them like any topic.
// Topic changes are persisted, then re-registered with every nameserver before the call answers
// (broker/topics/topics.ts onChange), so a route lookup right after UpsertTopic already lists this broker.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { validateName } from '../../common/names.js';
import type { conveyor } from '../../proto/index.js';
import { LOOKUP_KEY_RESULTS_MAX } from '../store/store-limits.js';
import { refuseSystemTopic, validateGroupConfig } from '../validate.js';
import { isMaster, type ServiceContext } from './context.js';

/** Queues one GetTopicStats answer covers: bounds its size; ask per topic beyond that. */
const TOPIC_STATS_QUEUES_MAX = 65_536;
/** Records one QueryMessage by key returns at most (the store's own lookup bound). */
const QUERY_MESSAGE_COUNT_MAX = LOOKUP_KEY_RESULTS_MAX;
/** Records by key when the request leaves max_count at 0. */
const QUERY_MESSAGE_COUNT_DEFAULT = 32;

export class AdminService {
  constructor(private readonly ctx: ServiceContext) {}

  async upsertTopic(request: conveyor.UpsertTopicRequest): Promise<conveyor.IUpsertTopicResponse> {
    this.requireMaster('topic configs');
    refuseSystemTopic(request.config?.topicName ?? '', 'create or change');
    const config = await this.ctx.topics.upsert(request.config ?? {});
    this.ctx.log.info({ ...config }, 'topic upserted');
    return {};
  }

  async deleteTopic(request: conveyor.DeleteTopicRequest): Promise<conveyor.IDeleteTopicResponse> {
    this.requireMaster('topic configs');
    validateName('topic', request.topic);
    refuseSystemTopic(request.topic, 'delete');
    await this.ctx.topics.delete(request.topic);
    await this.ctx.store.deleteTopic(request.topic);
    await this.ctx.store.meta.deleteOffsetsOfTopic(request.topic);
    this.ctx.dedup.forgetTopic(request.topic);
    this.ctx.log.info({ topic: request.topic }, 'topic deleted');
    return {};
  }

  async getTopicStats(request: conveyor.GetTopicStatsRequest): Promise<conveyor.IGetTopicStatsResponse> {
    const topics = request.topic === '' ? this.ctx.topics.list() : [this.ctx.topics.require(validateName('topic', request.topic))];
    const queueCount = topics.reduce((sum, t) => sum + Math.max(t.readQueueCount, t.writeQueueCount), 0);
    if (queueCount > TOPIC_STATS_QUEUES_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `all topics together have ${queueCount} queues, more than one answer holds (${TOPIC_STATS_QUEUES_MAX}); ask for one topic at a time`, { queues: queueCount, max: TOPIC_STATS_QUEUES_MAX });
    }
    const queues: conveyor.IQueueStats[] = [];
    for (const topic of topics) {
      for (let queueId = 0; queueId < Math.max(topic.readQueueCount, topic.writeQueueCount); queueId++) {
        const range = await this.ctx.store.queueRange(topic.topicName, queueId);
        const last = await this.ctx.store.lastStoreTimestamp(topic.topicName, queueId);
        queues.push({ topic: topic.topicName, queueId, minQueueOffset: range.minQueueOffset, maxQueueOffset: range.maxQueueOffset, lastStoreTimestampMs: last ?? 0 });
      }
    }
    return { topics: topics.map((t) => ({ ...t })), queues };
  }

  async upsertGroup(request: conveyor.UpsertGroupRequest): Promise<conveyor.IUpsertGroupResponse> {
    this.requireMaster('group configs');
    const config = validateGroupConfig(request.config);
    await this.ctx.store.meta.putGroup(config);
    this.ctx.replication.configsChanged();
    this.ctx.log.info({ ...config }, 'group upserted');
    return {};
  }

  async listGroups(): Promise<conveyor.IListGroupsResponse> {
    const groups = [...(await this.ctx.store.meta.listGroups())].sort((a, b) => compare(a.groupName ?? '', b.groupName ?? ''));
    const configured = new Set(groups.map((g) => g.groupName ?? ''));
    const withOffsets = new Set<string>();
    for (const entry of await this.ctx.store.meta.listOffsets()) if (!configured.has(entry.group)) withOffsets.add(entry.group);
    return { groups, groupsWithOffsets: [...withOffsets].sort(compare) };
  }

  async getGroupOffsets(request: conveyor.GetGroupOffsetsRequest): Promise<conveyor.IGetGroupOffsetsResponse> {
    const group = validateName('consumer group', request.consumerGroup);
    const committed = new Map<string, number>();
    const topicNames = new Set<string>();
    for (const entry of await this.ctx.store.meta.listOffsets(group)) {
      if (entry.group !== group) continue;
      committed.set(`${entry.topic}\u0000${entry.queueId}`, entry.offset);
      topicNames.add(entry.topic);
    }
    if (request.topic !== '') {
      this.ctx.topics.require(validateName('topic', request.topic));
      topicNames.clear();
      topicNames.add(request.topic);
    }
    const offsets: conveyor.IGroupQueueOffset[] = [];
    for (const topicName of [...topicNames].sort(compare)) {
      const topic = this.ctx.topics.get(topicName);
      const queueIds = topic !== undefined
        ? Array.from({ length: Math.max(topic.readQueueCount, topic.writeQueueCount) }, (_, i) => i)
        : [...committed.keys()].filter((k) => k.startsWith(`${topicName}\u0000`)).map((k) => Number(k.slice(topicName.length + 1))).sort((a, b) => a - b);
      for (const queueId of queueIds) {
        const range = await this.ctx.store.queueRange(topicName, queueId);
        offsets.push({ topic: topicName, queueId, committedOffset: committed.get(`${topicName}\u0000${queueId}`) ?? -1, maxQueueOffset: range.maxQueueOffset });
      }
    }
    return { offsets };
  }

  async queryMessage(request: conveyor.QueryMessageRequest): Promise<conveyor.IQueryMessageResponse> {
    let records: Buffer[];
    if (request.messageId !== '') {
      const record = await this.ctx.store.lookupById(request.messageId);
      records = record === null || record === undefined ? [] : [record];
      if (records.length === 0) throw new ConveyorError(ErrorCode.MESSAGE_NOT_FOUND, `no message with id '${request.messageId}' on broker ${this.ctx.identity.brokerName}`, { messageId: request.messageId });
    } else if (request.topic !== '' && request.key !== '') {
      validateName('topic', request.topic);
      const max = request.maxCount === 0 ? QUERY_MESSAGE_COUNT_DEFAULT : Math.min(request.maxCount, QUERY_MESSAGE_COUNT_MAX);
      records = await this.ctx.store.lookupByKey(request.topic, request.key, max);
      if (records.length === 0) throw new ConveyorError(ErrorCode.MESSAGE_NOT_FOUND, `no message with key '${request.key}' in topic '${request.topic}' on broker ${this.ctx.identity.brokerName}`, { topic: request.topic, key: request.key });
    } else {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'query a message by message_id, or by topic and key', { field: 'messageId' });
    }
    return { records: Buffer.concat(records), recordCount: records.length };
  }

  /**
   * Configs are written on the master only: a slave mirrors the master's configs on every metadata
   * copy, so a change made on the slave would be undone there (docs/replication.md).
   */
  private requireMaster(what: string): void {
    const { identity } = this.ctx;
    if (isMaster(identity)) return;
    throw new ConveyorError(
      ErrorCode.NOT_MASTER,
      `broker ${identity.brokerName} id ${identity.brokerId} is a slave: it copies ${what} from its master; change them on the master (id 0) of the group`,
      { brokerName: identity.brokerName, brokerId: identity.brokerId },
    );
  }

  getBrokerStatus(): conveyor.IBrokerStatus {
    const { identity, store } = this.ctx;
    const lag = this.ctx.replication.lag();
    return {
      clusterName: identity.clusterName,
      brokerName: identity.brokerName,
      brokerId: identity.brokerId,
      role: isMaster(identity) ? 'master' : 'slave',
      minPhysicalOffset: store.minPhysicalOffset,
      maxPhysicalOffset: store.maxPhysicalOffset,
      replicationLagBytes: lag.bytes,
      replicationLagMs: lag.ms,
      flushMode: identity.flushMode,
      replicationMode: identity.replicationMode,
    };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
