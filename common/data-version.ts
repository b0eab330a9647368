// The data version of a broker's topic table (proto/common.proto DataVersion), shared by the
// broker that bumps it and the nameserver that compares it. Versions are only ever compared for
// equality: a broker that restarts gets a new random epoch, so it never repeats a version the
// nameserver may still hold for its previous process, even with the same counter and clock.
import { randomInt } from 'node:crypto';

export interface DataVersion {
  /** Random per broker process start (1 … 2^32 − 1); 0 from a sender that does not set one. */
  epoch: number;
  /** When the version was made (the broker's clock): start time, then the time of each change. */
  timestampMs: number;
  /** Changes since the process started. */
  counter: number;
}

/** Exclusive upper bound of an epoch: it travels as a uint32. */
const EPOCH_LIMIT = 2 ** 32;

/** A random epoch for a new process: never 0, so it differs from "not set". */
export function newEpoch(): number {
  return randomInt(1, EPOCH_LIMIT);
}

/** The version a process starts with: counter 0 at its start time. */
export function initialDataVersion(epoch: number, nowMs: number): DataVersion {
  return { epoch, timestampMs: nowMs, counter: 0 };
}

/** The version after one more change: same epoch, counter + 1, timestamp now. */
export function nextDataVersion(version: DataVersion, nowMs: number): DataVersion {
  return { epoch: version.epoch, timestampMs: nowMs, counter: version.counter + 1 };
}

export function sameDataVersion(a: DataVersion, b: DataVersion): boolean {
  return a.epoch === b.epoch && a.timestampMs === b.timestampMs && a.counter === b.counter;
}

/** A decoded wire DataVersion; absent fields read as proto3 defaults (0). */
export function dataVersionFromWire(wire: { epoch?: number | null; timestampMs?: number | null; counter?: number | null } | null | undefined): DataVersion {
  return { epoch: wire?.epoch ?? 0, timestampMs: wire?.timestampMs ?? 0, counter: wire?.counter ?? 0 };
}
