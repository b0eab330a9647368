// The public API of the `conveyor` package: producer, consumers, admin, and the types and errors
// they use. Everything else under client/ is internal and may change.
export { ConveyorError, ErrorCode, errorCodeName, isConveyorError } from '../common/errors.js';
export { Producer, type ProducerOptions, type ProducerStats, type SendResult, type SendStatus } from './producer/producer.js';
export { PushConsumer, type ConsumeMode, type PushConsumerOptions } from './consumer/push-consumer.js';
export { PullConsumer, type PullConsumerOptions, type PullOptions } from './consumer/pull-consumer.js';
export {
  Admin,
  type AdminOptions,
  type BrokerStatusEntry,
  type CreateTopicOptions,
  type CreateTopicResult,
  type GroupDescription,
  type GroupQueueLag,
  type QueueDescription,
  type TopicDescription,
} from './admin/admin.js';
export type { ClientOptions } from './client-context.js';
export type { Message, OutgoingMessage } from './message.js';
export type { MessageQueue } from './routing/route.js';
export type { PullResult, PullStatus } from './consumer/queue-reader.js';
export type { StartPosition } from './consumer/queue-puller.js';
export { createMessageId } from '../common/message-id.js';
