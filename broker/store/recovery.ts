// Recovery at open (docs/storage.md): decides from the abort marker and the checkpoint whether the
// last run closed cleanly; after an unclean stop it scans the log tail from the last flushed
// segment, cutting a torn or corrupt tail; then it rebuilds consume-queue and index entries that
// lag the log. A clean start scans nothing unless a consume queue is found shorter than recorded.
import type { Logger } from 'pino';
import type { RecordIndexFields } from '../../common/record.js';
import type { Checkpoint } from './checkpoint.js';
import type { CommitLog } from './commit-log.js';
import type { ConsumeQueues } from './consume-queues.js';
import type { Dispatcher } from './dispatcher.js';
import { segmentBaseOf } from './layout.js';
import type { MessageIndex } from './message-index.js';
import { scanLog } from './recovery-scan.js';
import { RECOVERY_READ_BYTES } from './store-limits.js';

interface WalkResult {
  endPhysicalOffset: number;
  truncatedBytes: number;
}

/**
 * Walks the log from `fromPhysicalOffset` (a record boundary) to the end of the files, handing each
 * chunk's records to onRecords, and cuts the log where a record is torn or corrupt.
 */
async function walkCommitLog(
  commitLog: CommitLog,
  fromPhysicalOffset: number,
  log: Logger,
  onRecords?: (records: RecordIndexFields[]) => Promise<void> | void,
): Promise<WalkResult> {
  const segmentBytes = commitLog.segmentBytes;
  let position = fromPhysicalOffset;
  let reason: string | undefined;
  for (;;) {
    const segment = commitLog.segmentAt(position);
    if (segment === undefined || position >= segment.endOffset) break;
    const length = Math.min(RECOVERY_READ_BYTES, segment.endOffset - position);
    const buf = Buffer.allocUnsafe(length);
    const got = await commitLog.readInto(position, length, buf, 0);
    const result = scanLog(buf.subarray(0, got), position, segmentBytes);
    if (onRecords !== undefined && result.records.length > 0) await onRecords(result.records);
    const progressed = result.validEndPhysicalOffset > position;
    position = result.validEndPhysicalOffset;
    if (result.stop === 'end') continue;
    if (result.stop === 'incomplete' && progressed && position < segment.endOffset) continue;
    reason = result.stop === 'corrupt' ? result.reason : 'record cut short';
    break;
  }
  const filesEnd = commitLog.endFromFiles;
  let truncatedBytes = 0;
  if (position < filesEnd) {
    truncatedBytes = filesEnd - position;
    await commitLog.truncate(position);
    log.warn({ truncatedBytes, physicalOffset: position, reason: reason ?? 'data after the end of the log' }, 'commit log tail truncated');
  } else if (position > filesEnd) {
    // A padding record whose zeros were not all written: complete the segment with zeros.
    const last = commitLog.segmentAt(position - 1);
    if (last !== undefined) await last.truncate(position - last.baseOffset);
  }
  return { endPhysicalOffset: position, truncatedBytes };
}

interface RecoveryInput {
  commitLog: CommitLog;
  queues: ConsumeQueues;
  index: MessageIndex;
  checkpoint: Checkpoint | undefined;
  abortMarkerFound: boolean;
  log: Logger;
  /** Built once the log end is known. */
  makeDispatcher: (startPhysicalOffset: number) => Dispatcher;
}

export interface RecoveryReport {
  clean: boolean;
  logEndPhysicalOffset: number;
  truncatedBytes: number;
  /** Where the tail scan started (undefined on a clean start). */
  validatedFromPhysicalOffset: number | undefined;
  /** Where rebuilding consume queues and the index started (the log end when nothing lagged). */
  rebuiltFromPhysicalOffset: number;
  rebuiltRecords: number;
  dispatcher: Dispatcher;
}

export async function recoverStore(input: RecoveryInput): Promise<RecoveryReport> {
  const { commitLog, queues, index, checkpoint, log } = input;
  const filesEnd = commitLog.endFromFiles;
  const clean = !input.abortMarkerFound && checkpoint !== undefined && checkpoint.commitLogFlushedPhysicalOffset === filesEnd;
  const minPhysicalOffset = commitLog.minPhysicalOffset;
  let logEnd = filesEnd;
  let truncatedBytes = 0;
  let validatedFrom: number | undefined;
  if (!clean) {
    const flushed = Math.min(checkpoint?.commitLogFlushedPhysicalOffset ?? minPhysicalOffset, filesEnd);
    validatedFrom = Math.max(minPhysicalOffset, segmentBaseOf(flushed, commitLog.segmentBytes));
    const walked = await walkCommitLog(commitLog, validatedFrom, log);
    logEnd = walked.endPhysicalOffset;
    truncatedBytes = walked.truncatedBytes;
  }

  await queues.load(logEnd);
  await index.lowerProgress(logEnd);

  let from = Math.min(logEnd, checkpoint?.consumeQueuePhysicalOffset ?? minPhysicalOffset, index.persistedPhysicalOffset);
  for (const [topic, queueId, maxQueueOffset] of checkpoint?.queues ?? []) {
    const queue = queues.get(topic, queueId);
    if (queue !== undefined && queue.maxQueueOffset >= maxQueueOffset) continue;
    const lastEnd = queue === undefined ? undefined : await queue.lastEntryEnd();
    from = Math.min(from, lastEnd ?? minPhysicalOffset);
  }
  from = Math.max(minPhysicalOffset, Math.min(from, logEnd));

  const dispatcher = input.makeDispatcher(from);
  const indexFrom = index.persistedPhysicalOffset;
  let rebuiltRecords = 0;
  if (from < logEnd) {
    await walkCommitLog(commitLog, from, log, async (records) => {
      for (const record of records) {
        if (record.physicalOffset >= logEnd) break;
        dispatcher.dispatchRecord(record, record.physicalOffset >= indexFrom);
        rebuiltRecords++;
      }
      await index.whenBelowLimit();
    });
  }
  dispatcher.dispatchedPhysicalOffset = logEnd;
  await queues.advanceMin(minPhysicalOffset);
  log.info({ clean, logEndPhysicalOffset: logEnd, truncatedBytes, validatedFromPhysicalOffset: validatedFrom, rebuiltFromPhysicalOffset: from, rebuiltRecords }, 'store recovered');
  return { clean, logEndPhysicalOffset: logEnd, truncatedBytes, validatedFromPhysicalOffset: validatedFrom, rebuiltFromPhysicalOffset: from, rebuiltRecords, dispatcher };
}
