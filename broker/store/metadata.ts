// Broker metadata in level (one LevelDB at dataDir/meta, shared with the message index).
// Key layout (docs/storage.md): values are protobuf-encoded wire types or fixed-width integers.
//   topic:<name>                          conveyor.TopicConfig (protobuf)
//   group:<name>                          conveyor.GroupConfig (protobuf)
//   offset:<group>\0<topic>\0<queueId>    u64 queue offset
//   kv:<key>                              opaque bytes for the broker (e.g. its dedup window)
//   id:… key:…                            the message index (message-index.ts)
//   store:…                               the store's own bookkeeping (segment size, deleted topics)
import { Level } from 'level';
import { conveyor } from '../../proto/index.js';
import { readU64, writeU64 } from '../../common/record.js';
import { META_MAX_OPEN_FILES } from './open-files-budget.js';

export type MetaDb = Level<string, Uint8Array>;

const TOPIC = 'topic:';
const GROUP = 'group:';
const OFFSET = 'offset:';
const KV = 'kv:';
const STORE = 'store:';
const SEPARATOR = '\u0000';

/**
 * LevelDB's memtable size (write buffer) for the metadata db; level's default is 4 MiB. The db
 * takes small writes all the time (the message index's progress key and runs per dispatch), so
 * the memtable filled over minutes and its memory, allocated in the libuv threads' malloc arenas,
 * grew the broker's RSS for as long: with 1 MiB it is flushed to a table every few seconds to
 * minutes and stays small (docs/performance.md "Broker RSS").
 */
export const META_WRITE_BUFFER_BYTES = 1024 * 1024;
/** LevelDB's block cache for the metadata db (level's default 8 MiB): reads of it are rare (index lookups past the dedup window, offsets at start-up). */
const META_BLOCK_CACHE_BYTES = 2 * 1024 * 1024;

export interface OffsetEntry {
  group: string;
  topic: string;
  queueId: number;
  offset: number;
}

function u64(value: number): Uint8Array {
  const buf = Buffer.allocUnsafe(8);
  writeU64(buf, 0, value);
  return buf;
}

function fromU64(value: Uint8Array): number {
  return readU64(Buffer.from(value.buffer, value.byteOffset, value.byteLength), 0);
}

/** Plain objects with every field set (decoded messages keep defaults on their prototype). */
function decodeTopic(value: Uint8Array): conveyor.ITopicConfig {
  const m = conveyor.TopicConfig.decode(value);
  return { topicName: m.topicName, readQueueCount: m.readQueueCount, writeQueueCount: m.writeQueueCount, perm: m.perm, ordered: m.ordered };
}

function decodeGroup(value: Uint8Array): conveyor.IGroupConfig {
  const m = conveyor.GroupConfig.decode(value);
  return { groupName: m.groupName, consumeEnable: m.consumeEnable, retryMaxTimes: m.retryMaxTimes, broadcast: m.broadcast };
}

function offsetKey(group: string, topic: string, queueId: number): string {
  return `${OFFSET}${group}${SEPARATOR}${topic}${SEPARATOR}${String(queueId).padStart(10, '0')}`;
}

export class MetadataStore {
  private constructor(readonly db: MetaDb) {}

  static async open(dir: string): Promise<MetadataStore> {
    const db: MetaDb = new Level<string, Uint8Array>(dir, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: META_WRITE_BUFFER_BYTES,
      cacheSize: META_BLOCK_CACHE_BYTES,
      maxOpenFiles: META_MAX_OPEN_FILES,
    });
    await db.open();
    return new MetadataStore(db);
  }

  async getTopic(name: string): Promise<conveyor.ITopicConfig | undefined> {
    const value = await this.db.get(TOPIC + name);
    return value === undefined ? undefined : decodeTopic(value);
  }
  async putTopic(config: conveyor.ITopicConfig): Promise<void> {
    await this.db.put(TOPIC + (config.topicName ?? ''), conveyor.TopicConfig.encode(config).finish());
  }
  async deleteTopic(name: string): Promise<void> {
    await this.db.del(TOPIC + name);
  }
  async listTopics(): Promise<conveyor.ITopicConfig[]> {
    const out: conveyor.ITopicConfig[] = [];
    for await (const [, value] of this.iterateRaw(TOPIC)) out.push(decodeTopic(value));
    return out;
  }

  async getGroup(name: string): Promise<conveyor.IGroupConfig | undefined> {
    const value = await this.db.get(GROUP + name);
    return value === undefined ? undefined : decodeGroup(value);
  }
  async putGroup(config: conveyor.IGroupConfig): Promise<void> {
    await this.db.put(GROUP + (config.groupName ?? ''), conveyor.GroupConfig.encode(config).finish());
  }
  async deleteGroup(name: string): Promise<void> {
    await this.db.del(GROUP + name);
  }
  async listGroups(): Promise<conveyor.IGroupConfig[]> {
    const out: conveyor.IGroupConfig[] = [];
    for await (const [, value] of this.iterateRaw(GROUP)) out.push(decodeGroup(value));
    return out;
  }

  async commitOffset(group: string, topic: string, queueId: number, offset: number): Promise<void> {
    await this.db.put(offsetKey(group, topic, queueId), u64(offset));
  }
  async queryOffset(group: string, topic: string, queueId: number): Promise<number | undefined> {
    const value = await this.db.get(offsetKey(group, topic, queueId));
    return value === undefined ? undefined : fromU64(value);
  }
  async listOffsets(group?: string): Promise<OffsetEntry[]> {
    const out: OffsetEntry[] = [];
    for await (const [key, value] of this.iterateRaw(group === undefined ? OFFSET : `${OFFSET}${group}${SEPARATOR}`)) {
      const [g, topic, queueId] = key.slice(OFFSET.length).split(SEPARATOR);
      out.push({ group: g ?? '', topic: topic ?? '', queueId: Number(queueId), offset: fromU64(value) });
    }
    return out;
  }
  /** Drops every committed offset of a topic (topic deletion). */
  async deleteOffsetsOfTopic(topic: string): Promise<void> {
    const batch = this.db.batch();
    for (const entry of await this.listOffsets()) if (entry.topic === topic) batch.del(offsetKey(entry.group, entry.topic, entry.queueId));
    await batch.write();
  }

  /** A small generic KV under 'kv:' for the broker. */
  async getValue(key: string): Promise<Uint8Array | undefined> {
    return this.db.get(KV + key);
  }
  async putValue(key: string, value: Uint8Array): Promise<void> {
    await this.db.put(KV + key, value);
  }
  async deleteValue(key: string): Promise<void> {
    await this.db.del(KV + key);
  }
  /** Entries whose key starts with prefix (keys given without the 'kv:' part), in key order. */
  async *iterate(prefix: string): AsyncGenerator<[string, Uint8Array]> {
    for await (const [key, value] of this.iterateRaw(KV + prefix)) yield [key.slice(KV.length), value];
  }

  /** The store's own bookkeeping under 'store:'. */
  async getStoreNumber(name: string): Promise<number | undefined> {
    const value = await this.db.get(STORE + name);
    return value === undefined ? undefined : fromU64(value);
  }
  async putStoreNumber(name: string, value: number): Promise<void> {
    await this.db.put(STORE + name, u64(value));
  }
  async deleteStoreValue(name: string): Promise<void> {
    await this.db.del(STORE + name);
  }
  async *iterateStore(prefix: string): AsyncGenerator<[string, number]> {
    for await (const [key, value] of this.iterateRaw(STORE + prefix)) yield [key.slice(STORE.length + prefix.length), fromU64(value)];
  }

  /** Keys starting with prefix, in order: a scan from the prefix that stops at the first key without it. */
  private async *iterateRaw(prefix: string): AsyncGenerator<[string, Uint8Array]> {
    for await (const [key, value] of this.db.iterator({ gte: prefix })) {
      if (!key.startsWith(prefix)) break;
      yield [key, value];
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
