// The slave side of replication: appends raw commit-log bytes copied from the master at the same
// physical offsets, through the same writer (so the flush mode holds), and dispatches the whole
// records among them. Bytes may end inside a record (or a padding): that tail stays in memory
// until the rest arrives; the files only ever hold whole records.
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { RecordIndexFields } from '../../common/record.js';
import { splitAtSegments } from './batch-encoder.js';
import type { CommitLog } from './commit-log.js';
import type { Dispatcher } from './dispatcher.js';
import type { LogWriter } from './log-writer.js';
import { scanLog } from './recovery-scan.js';

export interface ReplicaTarget {
  commitLog: CommitLog;
  writer: LogWriter;
  dispatcher: Dispatcher;
  /** Next physical offset to place bytes at (the store's allocation pointer). */
  allocatedPhysicalOffset: number;
}

export class ReplicaAppender {
  private tail: Buffer = Buffer.alloc(0);

  constructor(private readonly target: ReplicaTarget) {}

  get tailBytes(): number {
    return this.tail.length;
  }

  /** Where the next copied bytes must start: after everything received, the buffered tail included. */
  get receivedPhysicalOffset(): number {
    return this.target.allocatedPhysicalOffset + this.tail.length;
  }

  async append(physicalOffset: number, bytes: Uint8Array): Promise<void> {
    const target = this.target;
    const { commitLog } = target;
    if (physicalOffset === target.allocatedPhysicalOffset) {
      this.tail = Buffer.alloc(0); // a resend from the last whole record (reconnect)
    } else if (physicalOffset !== this.receivedPhysicalOffset) {
      const emptyLog = commitLog.segmentList.length === 0 && target.allocatedPhysicalOffset === target.writer.writtenPhysicalOffset && this.tail.length === 0;
      if (!(emptyLog && physicalOffset % commitLog.segmentBytes === 0 && physicalOffset > target.allocatedPhysicalOffset)) {
        throw new ConveyorError(
          ErrorCode.INVALID_ARGUMENT,
          `replicated bytes at physical offset ${physicalOffset} do not continue the log, which expects ${this.receivedPhysicalOffset}`,
          { physicalOffset, expectedPhysicalOffset: this.receivedPhysicalOffset },
        );
      }
      // An empty slave starts at the master's first segment.
      commitLog.emptyStart = physicalOffset;
      target.writer.restartEmptyAt(physicalOffset);
      target.dispatcher.dispatchedPhysicalOffset = physicalOffset;
      target.allocatedPhysicalOffset = physicalOffset;
    }
    const incoming = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = this.tail.length === 0 ? incoming : Buffer.concat([this.tail, incoming]);
    const start = target.allocatedPhysicalOffset;
    const scan = scanLog(data, start, commitLog.segmentBytes, true);
    if (scan.stop === 'corrupt') {
      throw new ConveyorError(ErrorCode.CORRUPT_RECORD, `replicated record at physical offset ${scan.validEndPhysicalOffset} is corrupt: ${scan.reason ?? 'unknown'}`, {
        physicalOffset: scan.validEndPhysicalOffset,
      });
    }
    const complete = scan.validEndPhysicalOffset - start;
    const tail = Buffer.from(data.subarray(complete));
    if (tail.length > commitLog.segmentBytes) {
      throw new ConveyorError(ErrorCode.CORRUPT_RECORD, `replicated bytes hold ${tail.length} bytes of an unfinished record, more than a segment`, { physicalOffset: scan.validEndPhysicalOffset });
    }
    this.tail = tail;
    if (complete === 0) return;
    target.allocatedPhysicalOffset = scan.validEndPhysicalOffset;
    const records: RecordIndexFields[] = scan.records;
    await new Promise<void>((resolve, reject) => {
      target.writer.enqueue(splitAtSegments(start, data.subarray(0, complete), commitLog.segmentBytes), {
        endPhysicalOffset: scan.validEndPhysicalOffset,
        records: records.length,
        done: (error) => {
          if (error !== undefined) {
            reject(error);
            return;
          }
          for (const record of records) target.dispatcher.dispatchRecord(record, true);
          target.dispatcher.dispatchedPhysicalOffset = Math.max(target.dispatcher.dispatchedPhysicalOffset, scan.validEndPhysicalOffset);
          resolve();
        },
      });
    });
  }
}
