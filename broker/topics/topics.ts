// Topic configs of this broker: a cache in front of the store's metadata (level), with
// auto-create on first send when enabled. Every change is persisted before it is visible and then
// reported through `onChange`, which bumps the registration data version and re-registers
// (broker/registration/registration.ts).
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { conveyor } from '../../proto/index.js';
import { PERM_READ_WRITE, validateTopicConfig, type TopicConfig } from '../validate.js';

/**
 * Most topics on one broker: a full registration carries all of them (about 16 bytes each on the
 * wire, so ~160 KB at the bound; heartbeats at rest carry none, docs/nameserver.md), and the
 * nameserver caps a broker at 65,536.
 */
const TOPICS_MAX = 10_000;

export type { TopicConfig };

/** The part of the store's metadata this module uses. */
interface TopicMetaStore {
  putTopic(config: conveyor.ITopicConfig): Promise<void> | void;
  deleteTopic(topic: string): Promise<unknown> | unknown;
  listTopics(): Promise<conveyor.ITopicConfig[]> | conveyor.ITopicConfig[];
}

interface TopicManagerOptions {
  meta: TopicMetaStore;
  autoCreateTopics: boolean;
  defaultQueueCount: number;
  /**
   * Called after every persisted change (create, update, delete) and awaited: the broker
   * re-registers with the nameservers there, so the route reflects the change when the call returns.
   */
  onChange: () => Promise<void> | void;
  log: Logger;
}

export class TopicManager {
  private readonly topics = new Map<string, TopicConfig>();
  private readonly creating = new Map<string, Promise<TopicConfig>>();

  constructor(private readonly options: TopicManagerOptions) {}

  /** Loads every stored topic config into the cache (once, at start). */
  async load(): Promise<number> {
    for (const stored of await this.options.meta.listTopics()) {
      const config = validateTopicConfig(stored);
      this.topics.set(config.topicName, config);
    }
    return this.topics.size;
  }

  get(topic: string): TopicConfig | undefined {
    return this.topics.get(topic);
  }

  /** Every topic config, sorted by name. */
  list(): TopicConfig[] {
    return [...this.topics.values()].sort((a, b) => (a.topicName < b.topicName ? -1 : a.topicName > b.topicName ? 1 : 0));
  }

  get size(): number {
    return this.topics.size;
  }

  /** The topic's config; throws TOPIC_NOT_FOUND. */
  require(topic: string): TopicConfig {
    const config = this.topics.get(topic);
    if (config === undefined) throw notFound(topic);
    return config;
  }

  /** The config for a send: an unknown topic is created when auto-create is on, else TOPIC_NOT_FOUND. */
  async forSend(topic: string): Promise<TopicConfig> {
    const config = this.topics.get(topic);
    if (config !== undefined) return config;
    if (!this.options.autoCreateTopics) throw notFound(topic, ' (auto-create is off on this broker)');
    const pending = this.creating.get(topic);
    if (pending !== undefined) return pending;
    const created = this.upsert({ topicName: topic, readQueueCount: this.options.defaultQueueCount, writeQueueCount: this.options.defaultQueueCount, perm: PERM_READ_WRITE })
      .then((result) => {
        this.options.log.info({ topic, queueCount: this.options.defaultQueueCount }, 'topic auto-created');
        return result;
      })
      .finally(() => this.creating.delete(topic));
    this.creating.set(topic, created);
    return created;
  }

  /** Creates or updates a topic: validated, persisted, then visible. */
  async upsert(input: conveyor.ITopicConfig): Promise<TopicConfig> {
    const config: TopicConfig = validateTopicConfig(input);
    if (!this.topics.has(config.topicName) && this.topics.size >= TOPICS_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `this broker already holds ${TOPICS_MAX} topics, the most it serves; delete unused topics first`, { topic: config.topicName, max: TOPICS_MAX });
    }
    await this.options.meta.putTopic({ ...config });
    this.topics.set(config.topicName, config);
    await this.options.onChange();
    return config;
  }

  /** Deletes a topic's config; throws TOPIC_NOT_FOUND. The caller deletes its data. */
  async delete(topic: string): Promise<TopicConfig> {
    const config = this.require(topic);
    await this.options.meta.deleteTopic(topic);
    this.topics.delete(topic);
    await this.options.onChange();
    return config;
  }
}

function notFound(topic: string, why = ''): ConveyorError {
  return new ConveyorError(ErrorCode.TOPIC_NOT_FOUND, `topic '${topic}' does not exist on this broker${why}; create it first (conveyor topic create ${topic})`, { topic });
}
