// Consumer-side failover decisions (pure, injected clock): which broker of a group a read or an
// offset commit goes to, which addresses are suspected dead, how committed offsets found on
// several brokers of a group are reconciled, and what an OFFSET_OUT_OF_RANGE answer means.
// DESIGN.md §6 Failover: consumers go on reading a dead master's queues from its slave, commit
// offsets there, and move back when the master returns, without rewinding.
import { MASTER_BROKER_ID, type TopicRoute } from './route.js';

/**
 * How long an address whose call failed as unreachable (down, frozen, restarting) is tried only
 * after the group's other brokers. Long enough that a frozen master does not cost every pull a
 * full deadline; short enough that a restarted master is read from again within seconds.
 */
const READ_SUSPECT_MS_DEFAULT = 5_000;
/** Suspected addresses remembered at once; expired ones are pruned first. A bug guard. */
const SUSPECT_ADDRESSES_MAX = 4_096;

/** One broker of a group, in the order it should be tried. */
export interface BrokerCandidate {
  readonly address: string;
  readonly brokerId: number;
}

/** Addresses recently found unreachable. Shared by everything in one client object. */
export class BrokerSuspicion {
  private readonly until = new Map<string, number>();
  private readonly suspectMs: number;
  private readonly now: () => number;

  constructor(options: { suspectMs?: number; now?: () => number } = {}) {
    this.suspectMs = options.suspectMs ?? READ_SUSPECT_MS_DEFAULT;
    this.now = options.now ?? Date.now;
  }

  /** A call to `address` failed as unreachable (SERVICE_UNAVAILABLE, TIMEOUT, SHUTTING_DOWN). */
  recordUnreachable(address: string): void {
    if (!this.until.has(address) && this.until.size >= SUSPECT_ADDRESSES_MAX) this.prune();
    this.until.set(address, this.now() + this.suspectMs);
  }

  /** `address` answered (a result or an error with a meaning): it is alive. */
  recordAnswer(address: string): void {
    this.until.delete(address);
  }

  isSuspect(address: string): boolean {
    const until = this.until.get(address);
    if (until === undefined) return false;
    if (this.now() >= until) {
      this.until.delete(address);
      return false;
    }
    return true;
  }

  private prune(): void {
    const now = this.now();
    for (const [address, until] of this.until) if (now >= until) this.until.delete(address);
    // Still full: forget the oldest entry (Map order is insertion order).
    while (this.until.size >= SUSPECT_ADDRESSES_MAX) {
      const oldest = this.until.keys().next().value;
      if (oldest === undefined) break;
      this.until.delete(oldest);
    }
  }
}

/**
 * The order to try a broker group's brokers for a read or a commit: the master first, then slaves
 * by id; addresses under suspicion go last, in the same order (tried only when nothing else
 * answers). A master missing from the route (expired at the nameservers) is simply not there.
 */
export function brokerOrder(route: TopicRoute, brokerName: string, isSuspect: (address: string) => boolean): BrokerCandidate[] {
  const group = route.brokers.find((b) => b.brokerName === brokerName);
  if (group === undefined) return [];
  const all = [...group.addresses].sort((a, b) => a.brokerId - b.brokerId).map((a) => ({ address: a.address, brokerId: a.brokerId }));
  const seen = new Set<string>();
  const unique = all.filter((c) => c.address !== '' && !seen.has(c.address) && seen.add(c.address));
  return [...unique.filter((c) => !isSuspect(c.address)), ...unique.filter((c) => isSuspect(c.address))];
}

/** True while `address` is still one of the route's brokers of `brokerName`. */
export function isListed(route: TopicRoute | undefined, brokerName: string, address: string): boolean {
  const group = route?.brokers.find((b) => b.brokerName === brokerName);
  return group?.addresses.some((a) => a.address === address) ?? false;
}

/**
 * True when a broker earlier in the group's order than `current` (the master, for a slave) is
 * listed and not suspected: a long read held at `current` should move there.
 */
export function betterBrokerListed(route: TopicRoute, brokerName: string, current: BrokerCandidate, isSuspect: (address: string) => boolean): boolean {
  const first = brokerOrder(route, brokerName, isSuspect)[0];
  return first !== undefined && first.address !== current.address && first.brokerId < current.brokerId && !isSuspect(first.address);
}

/** Where an offset commit landed: the master (its home), or a slave standing in while the master is away. */
export type OffsetPlace = 'home' | 'stand-in';

export function offsetPlace(brokerId: number): OffsetPlace {
  return brokerId === MASTER_BROKER_ID ? 'home' : 'stand-in';
}

/**
 * The committed offset of a queue when several brokers of its group answered: the largest wins.
 * Commits only move forward in normal operation, so the largest is the newest: a slave holds the
 * commits made while the master was away, the master those made after the slave last copied its
 * offsets. Undefined when no answer had one.
 */
export function reconcileOffsets(answers: readonly (number | undefined)[]): number | undefined {
  let best: number | undefined;
  for (const offset of answers) if (offset !== undefined && (best === undefined || offset > best)) best = offset;
  return best;
}

type OutOfRangeAction = { readonly kind: 'seek'; readonly offset: number } | { readonly kind: 'wait' };

/**
 * What a consumer does when a pull at `offset` was refused as outside [min, max]:
 * - below the minimum (retention deleted it): go on at the minimum, wherever it was asked;
 * - past the end on a slave: the slave has not copied that far yet (async replication, or it is
 *   catching up after a restart) — keep the position and ask again later; moving back would
 *   re-deliver messages already handled, and the master (or the slave, once it has caught up)
 *   has the rest;
 * - past the end on the master: the master's log is shorter than the consumer's position (it
 *   lost its tail): go on at its end, as RocketMQ does.
 */
export function outOfRangeAction(offset: number, min: number, max: number, servedByBrokerId: number | undefined): OutOfRangeAction {
  if (offset < min) return { kind: 'seek', offset: min };
  if (offset > max && servedByBrokerId !== undefined && servedByBrokerId !== MASTER_BROKER_ID) return { kind: 'wait' };
  return { kind: 'seek', offset: Math.min(Math.max(offset, min), max) };
}
