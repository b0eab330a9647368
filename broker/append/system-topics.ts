// System topics (DESIGN.md §10, docs/broker.md "System topics"): topics whose name starts with
// SYSTEM_TOPIC_PREFIX (common/names.ts), written by the broker only. The send front refuses
// producer sends to them and the admin API refuses to create, change or delete them (ACCESS_DENIED,
// broker/validate.ts refuseSystemTopic); this is the broker-side API for the components that own
// them: make sure one exists, write to it through the Appender (ids and properties as given, no
// producer de-duplication), read it through the store's read path. They live in the same commit
// log as every topic, so flush, replication, recovery and retention cover them; their configs are
// registered with the nameservers and copied to slaves like any topic's.
import { assert } from '../../common/errors.js';
import { isSystemTopic, SYSTEM_TOPIC_PREFIX, validateName } from '../../common/names.js';
import type { MessageStore, ReadOptions, ReadResult, StoreMessageInput } from '../store/index.js';
import type { TopicConfig, TopicManager } from '../topics/topics.js';
import { PERM_READ_WRITE, PERM_WRITE, validateQueueId } from '../validate.js';
import type { Appender, DeadlineSource, Written } from './appender.js';

/** The name of the system topic `suffix` (e.g. `RETRY%group`); INVALID_NAME if the whole is not a valid topic name. */
export function systemTopicName(suffix: string): string {
  return validateName('topic', SYSTEM_TOPIC_PREFIX + suffix);
}

export interface SystemTopicSpec {
  /** A name starting with SYSTEM_TOPIC_PREFIX (systemTopicName). */
  readonly topicName: string;
  readonly queueCount: number;
  /**
   * Whether consumers may pull it (retry and dead-letter topics: read+write perm); otherwise the
   * topic is write-only to clients (scheduled messages, transaction halves) and only the broker
   * reads it, through `read`.
   */
  readonly consumable: boolean;
}

export interface SystemTopicsOptions {
  topics: TopicManager;
  appender: Appender;
  store: Pick<MessageStore, 'read'>;
}

export class SystemTopics {
  /** Creations in progress, so concurrent `ensure` calls of one topic create it once. */
  private readonly creating = new Map<string, Promise<TopicConfig>>();

  constructor(private readonly options: SystemTopicsOptions) {}

  /**
   * The topic's config, created (persisted, registered, copied to slaves) if it does not exist.
   * An existing config is returned as it is. NOT_MASTER on a slave, which copies configs from its
   * master.
   */
  ensure(spec: SystemTopicSpec): Promise<TopicConfig> {
    assert(isSystemTopic(spec.topicName), `'${spec.topicName}' is not a system topic name`);
    const existing = this.options.topics.get(spec.topicName);
    if (existing !== undefined) return Promise.resolve(existing);
    const pending = this.creating.get(spec.topicName);
    if (pending !== undefined) return pending;
    const created = this.create(spec).finally(() => this.creating.delete(spec.topicName));
    this.creating.set(spec.topicName, created);
    return created;
  }

  private async create(spec: SystemTopicSpec): Promise<TopicConfig> {
    this.options.appender.requireMaster();
    return this.options.topics.upsert({
      topicName: spec.topicName,
      readQueueCount: spec.queueCount,
      writeQueueCount: spec.queueCount,
      perm: spec.consumable ? PERM_READ_WRITE : PERM_WRITE,
    });
  }

  /**
   * Writes a batch to one queue of an existing system topic through the Appender: TOPIC_NOT_FOUND
   * before `ensure`, QUEUE_NOT_FOUND outside its queues, then the Appender's own checks.
   */
  async write(topicName: string, queueId: number, messages: StoreMessageInput[], deadline?: DeadlineSource): Promise<Written> {
    assert(isSystemTopic(topicName), `'${topicName}' is not a system topic name`);
    const topic = this.options.topics.require(topicName);
    validateQueueId(topicName, queueId, topic.writeQueueCount, 'write');
    return this.options.appender.write(topicName, queueId, messages, deadline);
  }

  /** Stored records of one queue from `queueOffset`, as the store's read path gives them (whatever the topic's perm). */
  read(topicName: string, queueId: number, queueOffset: number, options: ReadOptions): Promise<ReadResult> {
    assert(isSystemTopic(topicName), `'${topicName}' is not a system topic name`);
    return this.options.store.read(topicName, queueId, queueOffset, options);
  }
}
