// The fault schedule of a chaos run (pure): from a seed, the run's length and the fault interval,
// which fault happens when, to which process, and how long until it is healed. Kinds are drawn
// from a weighted "bag" (every kind in the bag once, in random order, then a fresh bag), so even a
// short run meets every kind and a long one meets them in the weighted proportions.
import { seededRandom } from './prng.js';

export const FAULT_KINDS = ['kill-master', 'kill-slave', 'kill-nameserver', 'pause-broker', 'cut-replication'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Default bag: master kills matter most (failover), the nameserver kill least (no data path). */
export const FAULT_WEIGHTS_DEFAULT: Readonly<Record<FaultKind, number>> = {
  'kill-master': 3,
  'kill-slave': 2,
  'kill-nameserver': 1,
  'pause-broker': 2,
  'cut-replication': 2,
};

/** No fault before the workload has run this long (routes, rebalance and replication settle). */
export const WARMUP_MS = 5_000;
/** The last fault is healed at least this long before the run ends, so the end state is healthy. */
export const QUIET_TAIL_MS = 5_000;
/** Interval jitter: each gap is the interval ± this fraction. */
const INTERVAL_JITTER = 0.2;
/** Time until a fault is healed, per kind: [min, max] ms (restart after a kill, SIGCONT, link healed). */
export const HEAL_AFTER_MS: Readonly<Record<FaultKind, readonly [number, number]>> = {
  'kill-master': [1_000, 6_000],
  'kill-slave': [1_000, 6_000],
  'kill-nameserver': [1_000, 5_000],
  'pause-broker': [2_000, 6_000],
  'cut-replication': [3_000, 8_000],
};
/** A fault is healed by this fraction of the interval at the latest, so faults do not overlap. */
const HEAL_FRACTION_OF_INTERVAL_MAX = 0.6;
/** Faults in one schedule at most: a bound on any duration and interval given. */
export const FAULTS_MAX = 10_000;

export interface Topology {
  /** Broker group names, e.g. ['broker-a', 'broker-b']; each has a master `<group>-0` and a slave `<group>-1`. */
  readonly groups: readonly string[];
  readonly nameservers: number;
}

export interface ScheduleInput {
  readonly seed: string | number;
  readonly durationMs: number;
  /** Mean time between fault starts. */
  readonly everyMs: number;
  readonly topology: Topology;
  /** Kinds that may be drawn, with their weight in the bag (0 or absent: never). */
  readonly weights?: Partial<Record<FaultKind, number>>;
}

export interface PlannedFault {
  readonly index: number;
  /** Since the workload started. */
  readonly atMs: number;
  readonly kind: FaultKind;
  /** A process name (`broker-a-0`, `nameserver-1`) or, for cut-replication, a broker group. */
  readonly target: string;
  readonly healAfterMs: number;
}

export function planFaults(input: ScheduleInput): PlannedFault[] {
  const { durationMs, everyMs, topology } = input;
  if (!(everyMs >= 1_000)) throw new Error(`fault interval must be at least 1000 ms, got ${everyMs}`);
  if (topology.groups.length === 0) throw new Error('a chaos topology needs at least one broker group');
  const weights = { ...FAULT_WEIGHTS_DEFAULT, ...input.weights };
  const bagTemplate = FAULT_KINDS.flatMap((kind) => Array.from({ length: Math.max(0, Math.floor(weights[kind] ?? 0)) }, () => kind));
  if (bagTemplate.length === 0) throw new Error('no fault kind has a weight above 0');
  const random = seededRandom(input.seed);
  const faults: PlannedFault[] = [];
  let bag: FaultKind[] = [];
  let atMs = WARMUP_MS + Math.round(everyMs * random.next() * 0.5);
  while (faults.length < FAULTS_MAX) {
    if (bag.length === 0) bag = random.shuffle(bagTemplate);
    const kind = bag.pop() as FaultKind;
    const [low, high] = HEAL_AFTER_MS[kind];
    const cap = Math.max(low, Math.floor(everyMs * HEAL_FRACTION_OF_INTERVAL_MAX));
    const healAfterMs = random.int(low, Math.max(low, Math.min(high, cap)));
    if (atMs + healAfterMs > durationMs - QUIET_TAIL_MS) break;
    faults.push({ index: faults.length, atMs, kind, target: pickTarget(kind, topology, random), healAfterMs });
    atMs += Math.round(everyMs * (1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random.next()));
  }
  return faults;
}

function pickTarget(kind: FaultKind, topology: Topology, random: ReturnType<typeof seededRandom>): string {
  const group = random.pick(topology.groups);
  switch (kind) {
    case 'kill-master': return `${group}-0`;
    case 'kill-slave': return `${group}-1`;
    case 'kill-nameserver': return `nameserver-${random.int(0, topology.nameservers - 1)}`;
    case 'pause-broker': return `${group}-${random.int(0, 1)}`;
    case 'cut-replication': return group;
    default: {
      const never: never = kind;
      throw new Error(`unknown fault kind ${String(never)}`);
    }
  }
}
