// Live members of consumer groups, from consumer heartbeats. Pure: callers pass the current time.
// A member that has not sent a heartbeat for `expiryMs` is gone; clients rebalance on the sorted
// list of live member ids, so every member computes the same allocation.
import { ConveyorError, ErrorCode, assert } from '../../common/errors.js';
import { conveyor } from '../../proto/index.js';

/** Most groups with live members on one broker: bounds the table's memory. */
const CONSUMER_GROUPS_MAX = 10_000;
/** Most live members in one group: more consumers than any topic has queues is already useless. */
export const CONSUMERS_PER_GROUP_MAX = 1_000;
/** Most topics one member may declare: bounds the memory of one heartbeat. */
export const CONSUMER_TOPICS_MAX = 1_000;
/** Longest client id (clients build it from host, pid and a random part). */
export const CLIENT_ID_LENGTH_MAX = 255;

interface ConsumerMember {
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly mode: conveyor.ConsumeMode;
  readonly lastHeartbeatMs: number;
}

export class ConsumerGroupTable {
  readonly expiryMs: number;
  private readonly groups = new Map<string, Map<string, ConsumerMember>>();

  constructor(options: { expiryMs: number }) {
    assert(options.expiryMs > 0, 'consumer expiryMs must be positive');
    this.expiryMs = options.expiryMs;
  }

  /** Records a heartbeat; throws SERVICE_UNAVAILABLE when a bound would be passed. */
  heartbeat(group: string, member: Omit<ConsumerMember, 'lastHeartbeatMs'>, nowMs: number): void {
    let members = this.groups.get(group);
    if (members === undefined) {
      if (this.groups.size >= CONSUMER_GROUPS_MAX) this.expire(nowMs);
      if (this.groups.size >= CONSUMER_GROUPS_MAX) {
        throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `this broker already tracks ${CONSUMER_GROUPS_MAX} consumer groups with live members; try again later or use another broker`, { group });
      }
      members = new Map();
      this.groups.set(group, members);
    }
    if (!members.has(member.clientId) && members.size >= CONSUMERS_PER_GROUP_MAX) {
      this.expireGroup(group, members, nowMs);
      if (members.size >= CONSUMERS_PER_GROUP_MAX) {
        throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, `consumer group '${group}' already has ${CONSUMERS_PER_GROUP_MAX} live members`, { group });
      }
    }
    members.set(member.clientId, { ...member, topics: [...member.topics], lastHeartbeatMs: nowMs });
  }

  /** Sorted ids of the group's live members. */
  list(group: string, nowMs: number): string[] {
    const members = this.groups.get(group);
    if (members === undefined) return [];
    this.expireGroup(group, members, nowMs);
    return [...members.keys()].sort();
  }

  /** Live members with their details, sorted by client id. */
  members(group: string, nowMs: number): ConsumerMember[] {
    const ids = this.list(group, nowMs);
    const members = this.groups.get(group);
    return members === undefined ? [] : ids.flatMap((id) => members.get(id) ?? []);
  }

  /** Names of groups with at least one live member, sorted. */
  groupNames(nowMs: number): string[] {
    this.expire(nowMs);
    return [...this.groups.keys()].sort();
  }

  /** Removes a member at once (clean consumer shutdown). Returns whether it was there. */
  unregister(group: string, clientId: string): boolean {
    const members = this.groups.get(group);
    if (members === undefined) return false;
    const removed = members.delete(clientId);
    if (members.size === 0) this.groups.delete(group);
    return removed;
  }

  /** Drops every member whose last heartbeat is `expiryMs` old or older. */
  expire(nowMs: number): void {
    for (const [group, members] of this.groups) this.expireGroup(group, members, nowMs);
  }

  private expireGroup(group: string, members: Map<string, ConsumerMember>, nowMs: number): void {
    for (const [id, member] of members) {
      if (nowMs - member.lastHeartbeatMs >= this.expiryMs) members.delete(id);
    }
    if (members.size === 0) this.groups.delete(group);
  }
}
