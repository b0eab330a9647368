// Retention shell: deletes whole commit-log segments as retention-policy.ts decides, then moves
// consume queues' minimum offsets, drops the deleted segments' index entries and forgets topic
// deletion marks the log no longer reaches.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { CommitLog } from './commit-log.js';
import type { ConsumeQueues } from './consume-queues.js';
import type { DiskMonitor } from './disk-usage.js';
import type { Dispatcher } from './dispatcher.js';
import type { MessageIndex } from './message-index.js';
import type { MetadataStore } from './metadata.js';
import { nextRetentionStep } from './retention-policy.js';
import { RETENTION_PRESSURE_SEGMENTS_PER_RUN_MAX } from './store-limits.js';

interface RetentionDeps {
  commitLog: CommitLog;
  queues: ConsumeQueues;
  index: MessageIndex;
  dispatcher: Dispatcher;
  meta: MetadataStore;
  disk: DiskMonitor;
  clock: () => number;
  retentionMs: number;
  softThresholdPercent: number;
  log: Logger;
}

export const DELETED_TOPIC_PREFIX = 'deleted:';

export interface RetentionRun {
  deletedSegments: number[];
  minPhysicalOffset: number;
  usedPercent: number;
}

export async function runRetention(deps: RetentionDeps): Promise<RetentionRun> {
  const { commitLog, disk, log } = deps;
  await disk.refresh();
  const deletedSegments: number[] = [];
  let deletedForPressure = 0;
  for (;;) {
    const segments = commitLog.segmentList;
    const first = segments[0];
    const oldest = first === undefined ? undefined : { baseOffset: first.baseOffset, lastModifiedMs: (await stat(first.path)).mtimeMs };
    const step = nextRetentionStep({
      oldest,
      segmentCount: segments.length,
      nowMs: deps.clock(),
      retentionMs: deps.retentionMs,
      usedPercent: disk.usedPercent,
      softThresholdPercent: deps.softThresholdPercent,
      deletedForPressure,
      pressureDeletesMax: RETENTION_PRESSURE_SEGMENTS_PER_RUN_MAX,
    });
    if (step.action === 'stop') break;
    await commitLog.deleteOldest();
    deletedSegments.push(step.baseOffset);
    log.info({ baseOffset: step.baseOffset, reason: step.reason }, 'segment deleted');
    if (step.reason === 'disk-pressure') {
      deletedForPressure++;
      await disk.refresh();
    }
  }
  const minPhysicalOffset = commitLog.minPhysicalOffset;
  if (deletedSegments.length > 0) {
    await deps.queues.advanceMin(minPhysicalOffset);
    for (const base of deletedSegments) await deps.index.deleteSegment(base);
    for (const [topic, deletedAt] of deps.dispatcher.deletedTopics) {
      if (deletedAt > minPhysicalOffset) continue;
      deps.dispatcher.deletedTopics.delete(topic);
      await deps.meta.deleteStoreValue(DELETED_TOPIC_PREFIX + topic);
    }
  }
  return { deletedSegments, minPhysicalOffset, usedPercent: disk.usedPercent };
}
