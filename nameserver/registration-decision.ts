// What one RegisterBroker does to a broker's entry, decided from the data version the nameserver
// holds for it and what the request carries: pure, no state (the route table applies the answer).
// Rules: docs/nameserver.md, Registration.
import { sameDataVersion, type DataVersion } from '../common/data-version.js';

/**
 * - `new`: the broker was unknown or had expired; it is added with the table it sent.
 * - `topics-changed`: a live broker sent its full table at another version; the table is replaced.
 * - `heartbeat`: the version is the one held; liveness and addresses are refreshed (a full table
 *   sent at the same version replaces the held one, which it equals).
 * - `topics-wanted`: a light heartbeat for a version this nameserver does not hold (it restarted,
 *   expired the broker, or holds another version): nothing changes, and the answer asks for the
 *   full table.
 */
export type RegistrationChange = 'new' | 'topics-changed' | 'heartbeat' | 'topics-wanted';

export interface IncomingRegistration {
  dataVersion: DataVersion;
  /** True when the request carries the whole topic table, false for a light heartbeat. */
  fullTopicTable: boolean;
}

/** `held`: the version of the broker's live entry, undefined when there is none (unknown or expired). */
export function decideRegistration(held: DataVersion | undefined, incoming: IncomingRegistration): RegistrationChange {
  if (held !== undefined && sameDataVersion(held, incoming.dataVersion)) return 'heartbeat';
  if (!incoming.fullTopicTable) return 'topics-wanted';
  return held === undefined ? 'new' : 'topics-changed';
}
