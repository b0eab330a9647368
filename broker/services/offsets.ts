// Offsets: consumed offsets per (group, topic, queue) kept in the store's metadata (level), the
// offset for a timestamp, and a queue's range.
import { validateName } from '../../common/names.js';
import type { conveyor } from '../../proto/index.js';
import { validateQueueId, validateQueueOffset } from '../validate.js';
import { isMaster, type ServiceContext } from './context.js';

export class OffsetService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Checks the topic name and, where this broker has its config, the queue id (read queues). */
  private checkQueue(topicName: string, queueId: number): void {
    validateName('topic', topicName);
    const topic = this.ctx.topics.get(topicName);
    if (topic !== undefined) validateQueueId(topicName, queueId, Math.max(topic.readQueueCount, topic.writeQueueCount), 'read');
    else if (isMaster(this.ctx.identity)) this.ctx.topics.require(topicName);
  }

  async commitOffset(request: conveyor.CommitOffsetRequest): Promise<conveyor.ICommitOffsetResponse> {
    validateName('consumer group', request.consumerGroup);
    this.checkQueue(request.topic, request.queueId);
    validateQueueOffset(request.queueOffset);
    await this.ctx.store.meta.commitOffset(request.consumerGroup, request.topic, request.queueId, request.queueOffset);
    return {};
  }

  async queryOffset(request: conveyor.QueryOffsetRequest): Promise<conveyor.IQueryOffsetResponse> {
    validateName('consumer group', request.consumerGroup);
    this.checkQueue(request.topic, request.queueId);
    const offset = await this.ctx.store.meta.queryOffset(request.consumerGroup, request.topic, request.queueId);
    return offset === undefined ? { found: false, queueOffset: 0 } : { found: true, queueOffset: offset };
  }

  async searchOffset(request: conveyor.SearchOffsetRequest): Promise<conveyor.ISearchOffsetResponse> {
    this.checkQueue(request.topic, request.queueId);
    validateQueueOffset(request.timestampMs, 'timestampMs');
    return { queueOffset: await this.ctx.store.searchOffset(request.topic, request.queueId, request.timestampMs) };
  }

  async getQueueRange(request: conveyor.GetQueueRangeRequest): Promise<conveyor.IGetQueueRangeResponse> {
    this.checkQueue(request.topic, request.queueId);
    const range = await this.ctx.store.queueRange(request.topic, request.queueId);
    return { minQueueOffset: range.minQueueOffset, maxQueueOffset: range.maxQueueOffset };
  }
}
