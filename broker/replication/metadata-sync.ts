// Metadata copy from master to slave. The commit log arrives byte for byte over the Replicate
// stream; topic configs, group configs and consumer offsets live in level and are copied on an
// interval instead: the slave asks GetMetadata and mirrors the answer into its own metadata, so
// that consumers can go on from the slave when the master is gone (DESIGN.md §4).
//
// Rules of the copy (docs/replication.md):
// - topics and groups mirror the master: added, updated, and deleted when the master no longer
//   has them (skipped while the snapshot's data version is unchanged);
// - consumer offsets merge by maximum: the slave keeps its own offset when it is larger (consumers
//   committed on the slave while the master was away), so an offset never moves backwards.
import type * as grpc from '@grpc/grpc-js';
import { ReplicationService, type conveyor } from '../../proto/index.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { callUnary } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';

/** Default interval between two copies (RocketMQ's slave copies every 10 s; 5 s halves the window). */
export const METADATA_SYNC_INTERVAL_MS_DEFAULT = 5_000;
/** Deadline of one GetMetadata call: generous, the answer may hold many offsets. */
const METADATA_CALL_DEADLINE_MS = 10_000;
/**
 * Consumer offsets in one snapshot: ~60 bytes each on the wire, so 500,000 stay well under the
 * 64 MiB gRPC message limit. Past it the master refuses instead of answering with a partial copy.
 */
const METADATA_OFFSETS_MAX = 500_000;

/** One committed consumer offset, as the store lists it. */
export interface OffsetEntry {
  group: string;
  topic: string;
  queueId: number;
  offset: number;
}

/** What the master reads (the store's MetadataStore satisfies it). */
export interface MetadataSource {
  listTopics(): Promise<conveyor.ITopicConfig[]>;
  listGroups(): Promise<conveyor.IGroupConfig[]>;
  listOffsets(): Promise<OffsetEntry[]>;
}

/**
 * What the slave writes. The store's MetadataStore satisfies it; a broker that caches topics
 * passes an adapter whose putTopic/deleteTopic go through its cache (docs/replication.md).
 */
export interface MetadataTarget extends MetadataSource {
  putTopic(config: conveyor.ITopicConfig): Promise<unknown>;
  deleteTopic(name: string): Promise<unknown>;
  putGroup(config: conveyor.IGroupConfig): Promise<unknown>;
  deleteGroup(name: string): Promise<unknown>;
  commitOffset(group: string, topic: string, queueId: number, offset: number): Promise<unknown>;
}

/** A broker's topic cache (broker/topics/topics.ts TopicManager): persists, updates the cache, bumps the data version. */
export interface TopicCache {
  upsert(config: conveyor.ITopicConfig): Promise<unknown>;
  delete(topic: string): Promise<unknown>;
}

/**
 * The slave's metadata target for a broker that caches topic configs: topics go through the cache
 * (so pulls, routes and registration see them at once), everything else straight to the store.
 */
export function metadataTargetThrough(meta: MetadataTarget, topics: TopicCache): MetadataTarget {
  return {
    listTopics: () => meta.listTopics(),
    listGroups: () => meta.listGroups(),
    listOffsets: () => meta.listOffsets(),
    putTopic: (config) => topics.upsert(config),
    deleteTopic: (name) => topics.delete(name),
    putGroup: (config) => meta.putGroup(config),
    deleteGroup: (name) => meta.deleteGroup(name),
    commitOffset: (group, topic, queueId, offset) => meta.commitOffset(group, topic, queueId, offset),
  };
}

/**
 * Master side: the GetMetadata answer. `dataVersion` changes whenever topics or groups change;
 * without one, slaves compare every config on every copy.
 */
export async function readMetadataSnapshot(source: MetadataSource, dataVersion: conveyor.IDataVersion | undefined): Promise<conveyor.IMetadataSnapshot> {
  const [topics, groups, offsets] = await Promise.all([source.listTopics(), source.listGroups(), source.listOffsets()]);
  if (offsets.length > METADATA_OFFSETS_MAX) {
    throw new ConveyorError(
      ErrorCode.INTERNAL,
      `this master holds ${offsets.length} consumer offsets, more than one metadata snapshot carries (${METADATA_OFFSETS_MAX}); delete unused consumer groups`,
      { offsetCount: offsets.length, max: METADATA_OFFSETS_MAX },
    );
  }
  return {
    topics,
    groups,
    offsets: offsets.map((o) => ({ consumerGroup: o.group, topic: o.topic, queueId: o.queueId, queueOffset: o.offset })),
    dataVersion: dataVersion ?? null,
  };
}

export interface MetadataApplied {
  topicsPut: number;
  topicsDeleted: number;
  groupsPut: number;
  groupsDeleted: number;
  offsetsAdvanced: number;
  /** False when the data version was unchanged and topics/groups were left alone. */
  configsCopied: boolean;
}

/** Equal and known: a missing or zero version (a master without a data version) never matches. */
function sameVersion(a: conveyor.IDataVersion | null | undefined, b: conveyor.IDataVersion | null | undefined): boolean {
  if (!a || !b) return false;
  if (Number(a.timestampMs ?? 0) === 0 && Number(a.counter ?? 0) === 0) return false;
  return Number(a.timestampMs ?? 0) === Number(b.timestampMs ?? 0) && Number(a.counter ?? 0) === Number(b.counter ?? 0);
}

function offsetKey(group: string, topic: string, queueId: number): string {
  return `${group}\u0000${topic}\u0000${queueId}`;
}

function sameTopic(a: conveyor.ITopicConfig, b: conveyor.ITopicConfig): boolean {
  return (a.readQueueCount ?? 0) === (b.readQueueCount ?? 0) && (a.writeQueueCount ?? 0) === (b.writeQueueCount ?? 0)
    && (a.perm ?? 0) === (b.perm ?? 0) && Boolean(a.ordered) === Boolean(b.ordered);
}

function sameGroup(a: conveyor.IGroupConfig, b: conveyor.IGroupConfig): boolean {
  return Boolean(a.consumeEnable) === Boolean(b.consumeEnable) && (a.retryMaxTimes ?? 0) === (b.retryMaxTimes ?? 0)
    && Boolean(a.broadcast) === Boolean(b.broadcast);
}

/**
 * Slave side: mirrors one snapshot into `target`. Topics and groups are copied only when the data
 * version differs from `previousVersion` (and only the ones that changed are written); offsets
 * always, by maximum.
 */
export async function applyMetadataSnapshot(
  target: MetadataTarget,
  snapshot: conveyor.IMetadataSnapshot,
  previousVersion: conveyor.IDataVersion | undefined,
): Promise<MetadataApplied> {
  const applied: MetadataApplied = { topicsPut: 0, topicsDeleted: 0, groupsPut: 0, groupsDeleted: 0, offsetsAdvanced: 0, configsCopied: false };
  if (!sameVersion(snapshot.dataVersion, previousVersion)) {
    applied.configsCopied = true;
    const ownTopics = new Map((await target.listTopics()).map((t) => [t.topicName ?? '', t]));
    const masterTopics = snapshot.topics ?? [];
    for (const topic of masterTopics) {
      const own = ownTopics.get(topic.topicName ?? '');
      if (own === undefined || !sameTopic(own, topic)) {
        await target.putTopic(topic);
        applied.topicsPut += 1;
      }
    }
    const masterTopicNames = new Set(masterTopics.map((t) => t.topicName ?? ''));
    for (const name of ownTopics.keys()) {
      if (masterTopicNames.has(name)) continue;
      await target.deleteTopic(name);
      applied.topicsDeleted += 1;
    }
    const ownGroups = new Map((await target.listGroups()).map((g) => [g.groupName ?? '', g]));
    const masterGroups = snapshot.groups ?? [];
    for (const group of masterGroups) {
      const own = ownGroups.get(group.groupName ?? '');
      if (own === undefined || !sameGroup(own, group)) {
        await target.putGroup(group);
        applied.groupsPut += 1;
      }
    }
    const masterGroupNames = new Set(masterGroups.map((g) => g.groupName ?? ''));
    for (const name of ownGroups.keys()) {
      if (masterGroupNames.has(name)) continue;
      await target.deleteGroup(name);
      applied.groupsDeleted += 1;
    }
  }
  const ownOffsets = new Map((await target.listOffsets()).map((o) => [offsetKey(o.group, o.topic, o.queueId), o.offset]));
  for (const entry of snapshot.offsets ?? []) {
    const group = entry.consumerGroup ?? '';
    const topic = entry.topic ?? '';
    const queueId = entry.queueId ?? 0;
    const offset = Number(entry.queueOffset ?? 0);
    const own = ownOffsets.get(offsetKey(group, topic, queueId));
    if (own !== undefined && own >= offset) continue;
    await target.commitOffset(group, topic, queueId, offset);
    applied.offsetsAdvanced += 1;
  }
  return applied;
}

interface MetadataSyncOptions {
  /** The master's client; undefined while no master is known (the copy is skipped quietly). */
  client: () => grpc.Client | undefined;
  target: MetadataTarget;
  intervalMs: number;
  log: Logger;
  /** Called after each copy that changed something (e.g. to refresh caches or bump a data version). */
  onApplied?: (applied: MetadataApplied) => void;
}

/** Slave side: copies the master's metadata every `intervalMs`, first at once. */
export class MetadataSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastVersion: conveyor.IDataVersion | undefined;
  private closed = false;
  /** Wall-clock ms of the last successful copy (0 before the first). */
  lastSyncMs = 0;
  lastError: ConveyorError | undefined;

  constructor(private readonly options: MetadataSyncOptions) {}

  start(): void {
    this.schedule(0);
  }

  /** Copies once now (also what the timer does); resolves when done, never rejects. */
  syncNow(): Promise<void> {
    this.running ??= this.copy().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The master changed: forget the data version so the next copy compares every config. */
  reset(): void {
    this.lastVersion = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.syncNow().then(() => this.schedule(this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async copy(): Promise<void> {
    const { log } = this.options;
    try {
      const client = this.options.client();
      if (client === undefined) return;
      const snapshot = await callUnary(client, ReplicationService.getMetadata, {}, METADATA_CALL_DEADLINE_MS, 'master');
      if (this.closed) return;
      const applied = await applyMetadataSnapshot(this.options.target, snapshot, this.lastVersion);
      this.lastVersion = snapshot.dataVersion ?? undefined;
      this.lastSyncMs = Date.now();
      this.lastError = undefined;
      const changed = applied.topicsPut + applied.topicsDeleted + applied.groupsPut + applied.groupsDeleted + applied.offsetsAdvanced > 0;
      if (changed) {
        log.debug({ ...applied }, 'metadata copied from master');
        this.options.onApplied?.(applied);
      }
    } catch (err) {
      const error = err instanceof ConveyorError ? err : new ConveyorError(ErrorCode.INTERNAL, `metadata copy failed: ${String(err)}`, {}, { cause: err });
      if (this.lastError?.code !== error.code) log.warn({ code: error.codeName, err: error.message }, 'metadata copy from master failed');
      this.lastError = error;
    }
  }
}
