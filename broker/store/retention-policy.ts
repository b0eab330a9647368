// Pure: which commit-log segment retention deletes next, and whether appends are refused.
// Segments go oldest first and never the active (last) one: first those older than the retention
// time, then, while the disk is past the soft threshold, the oldest remaining ones.

interface SegmentAge {
  baseOffset: number;
  /** When the segment was last written (file mtime). */
  lastModifiedMs: number;
}

export interface RetentionState {
  /** The oldest segment, if any. */
  oldest: SegmentAge | undefined;
  /** Segments on disk, the active (last) one included. */
  segmentCount: number;
  nowMs: number;
  retentionMs: number;
  usedPercent: number;
  softThresholdPercent: number;
  /** Segments already deleted for disk pressure in this run. */
  deletedForPressure: number;
  pressureDeletesMax: number;
}

type RetentionStep = { action: 'delete'; baseOffset: number; reason: 'expired' | 'disk-pressure' } | { action: 'stop' };

export function nextRetentionStep(state: RetentionState): RetentionStep {
  const oldest = state.oldest;
  if (oldest === undefined || state.segmentCount < 2) return { action: 'stop' };
  if (oldest.lastModifiedMs + state.retentionMs <= state.nowMs) return { action: 'delete', baseOffset: oldest.baseOffset, reason: 'expired' };
  if (state.usedPercent >= state.softThresholdPercent && state.deletedForPressure < state.pressureDeletesMax) {
    return { action: 'delete', baseOffset: oldest.baseOffset, reason: 'disk-pressure' };
  }
  return { action: 'stop' };
}

/** Appends fail with DISK_FULL at or past the hard threshold. */
export function refusesWrites(usedPercent: number, hardThresholdPercent: number): boolean {
  return usedPercent >= hardThresholdPercent;
}
