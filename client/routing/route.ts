// Pure views of a topic route (nameserver GetRoute answer): which queues exist, which are writable
// on a live master, where each broker group's master and slaves are. No I/O.
import type { conveyor } from '../../proto/index.js';

/** One queue of a topic on one broker group: DESIGN.md §1. */
export interface MessageQueue {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
}

/** Permission bits, as RocketMQ and common.proto: 4 readable, 2 writable. */
const PERM_READ = 4;
const PERM_WRITE = 2;
export const PERM_READ_WRITE = PERM_READ | PERM_WRITE;

/** The master's broker id inside a broker group. */
export const MASTER_BROKER_ID = 0;

/** A route as the client keeps it (decoded wire shape, only the fields used). */
export interface TopicRoute {
  readonly topic: string;
  readonly queues: readonly RouteQueueData[];
  readonly brokers: readonly RouteBrokerData[];
}
export interface RouteQueueData {
  readonly brokerName: string;
  readonly readQueueCount: number;
  readonly writeQueueCount: number;
  readonly perm: number;
}
export interface RouteBrokerData {
  readonly clusterName: string;
  readonly brokerName: string;
  readonly addresses: readonly { readonly brokerId: number; readonly address: string }[];
}

/** Copies the wire answer into plain, immutable client data. */
export function routeFromWire(topic: string, wire: conveyor.ITopicRoute): TopicRoute {
  return {
    topic: wire.topic || topic,
    queues: (wire.queues ?? []).map((q) => ({
      brokerName: q.brokerName ?? '',
      readQueueCount: q.readQueueCount ?? 0,
      writeQueueCount: q.writeQueueCount ?? 0,
      perm: q.perm ?? 0,
    })),
    brokers: (wire.brokers ?? []).map((b) => ({
      clusterName: b.clusterName ?? '',
      brokerName: b.brokerName ?? '',
      addresses: (b.addresses ?? [])
        .map((a) => ({ brokerId: Number(a.brokerId ?? 0), address: a.address ?? '' }))
        .sort((x, y) => x.brokerId - y.brokerId),
    })),
  };
}

/** Total order on queues: topic, then broker name, then queue id. Every member sorts the same way. */
export function compareQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

/** `topic@broker-a#3`: a stable key for maps and logs. */
export function queueKey(queue: MessageQueue): string {
  return `${queue.topic}@${queue.brokerName}#${queue.queueId}`;
}

/** The master address of a broker group, if the route has a live master for it. */
export function masterAddress(route: TopicRoute, brokerName: string): string | undefined {
  const broker = route.brokers.find((b) => b.brokerName === brokerName);
  return broker?.addresses.find((a) => a.brokerId === MASTER_BROKER_ID)?.address;
}

/**
 * Addresses to read a broker group from: the master first, then slaves by id. Consumers go on
 * reading from a slave when the master is gone (DESIGN.md §6 Failover).
 */
export function readAddresses(route: TopicRoute, brokerName: string): string[] {
  const broker = route.brokers.find((b) => b.brokerName === brokerName);
  return broker ? broker.addresses.map((a) => a.address) : [];
}

/** Every broker address in the route (masters and slaves), sorted, without duplicates. */
export function allAddresses(route: TopicRoute): string[] {
  return [...new Set(route.brokers.flatMap((b) => b.addresses.map((a) => a.address)))].sort();
}

/**
 * Queues a producer may send to: writable queue data (perm & 2) of broker groups whose master
 * (id 0) is in the route, queue ids 0 … writeQueueCount-1, sorted.
 */
export function writableQueues(route: TopicRoute): MessageQueue[] {
  const out: MessageQueue[] = [];
  for (const data of route.queues) {
    if ((data.perm & PERM_WRITE) === 0) continue;
    if (masterAddress(route, data.brokerName) === undefined) continue;
    for (let queueId = 0; queueId < data.writeQueueCount; queueId++) out.push({ topic: route.topic, brokerName: data.brokerName, queueId });
  }
  return out.sort(compareQueues);
}

/**
 * writableQueues of a route, computed once per route object and shared (frozen): the producer
 * resolves the queues for every send, and building and sorting the list each time showed in the
 * single-send profile. The route cache replaces a route object when
 * it fetches the route again and never changes one, so a route's list never goes stale, and the
 * entry goes with its route (a WeakMap).
 */
export function writableQueuesOf(route: TopicRoute): readonly MessageQueue[] {
  let queues = writableQueuesByRoute.get(route);
  if (queues === undefined) {
    queues = Object.freeze(writableQueues(route).map((queue) => Object.freeze(queue)));
    writableQueuesByRoute.set(route, queues);
  }
  return queues;
}

const writableQueuesByRoute = new WeakMap<TopicRoute, readonly MessageQueue[]>();

/**
 * Queues a consumer reads: readable queue data (perm & 4), queue ids 0 … readQueueCount-1, sorted.
 * A broker group with no live broker at all is left out (nobody could serve it).
 */
export function readableQueues(route: TopicRoute): MessageQueue[] {
  const out: MessageQueue[] = [];
  for (const data of route.queues) {
    if ((data.perm & PERM_READ) === 0) continue;
    if (readAddresses(route, data.brokerName).length === 0) continue;
    for (let queueId = 0; queueId < data.readQueueCount; queueId++) out.push({ topic: route.topic, brokerName: data.brokerName, queueId });
  }
  return out.sort(compareQueues);
}
