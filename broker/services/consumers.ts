// Consumer heartbeats and membership: the live member list clients rebalance on.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { validateName } from '../../common/names.js';
import { conveyor } from '../../proto/index.js';
import { CONSUMER_TOPICS_MAX } from '../consumers/consumer-groups.js';
import { validateClientId } from '../validate.js';
import type { ServiceContext } from './context.js';

export class ConsumerService {
  constructor(private readonly ctx: ServiceContext) {}

  consumerHeartbeat(request: conveyor.ConsumerHeartbeatRequest): conveyor.IConsumerHeartbeatResponse {
    validateClientId(request.clientId);
    validateName('consumer group', request.consumerGroup);
    if (request.topics.length > CONSUMER_TOPICS_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `a consumer heartbeat lists ${request.topics.length} topics, over the limit of ${CONSUMER_TOPICS_MAX}`, { field: 'topics', max: CONSUMER_TOPICS_MAX });
    }
    for (const topic of request.topics) validateName('topic', topic);
    if (request.mode !== conveyor.ConsumeMode.CLUSTERING && request.mode !== conveyor.ConsumeMode.BROADCASTING) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `consume mode ${String(request.mode)} is unknown; use CLUSTERING or BROADCASTING`, { field: 'mode' });
    }
    this.ctx.consumers.heartbeat(request.consumerGroup, { clientId: request.clientId, topics: request.topics, mode: request.mode }, this.ctx.clock());
    return {};
  }

  getConsumerList(request: conveyor.GetConsumerListRequest): conveyor.IGetConsumerListResponse {
    validateName('consumer group', request.consumerGroup);
    return { clientIds: this.ctx.consumers.list(request.consumerGroup, this.ctx.clock()) };
  }

  unregisterConsumer(request: conveyor.UnregisterConsumerRequest): conveyor.IUnregisterConsumerResponse {
    validateClientId(request.clientId);
    validateName('consumer group', request.consumerGroup);
    this.ctx.consumers.unregister(request.consumerGroup, request.clientId);
    return {};
  }
}
