// Pure: walks commit-log bytes record by record, validating each (length, magic, CRC, the physical
// offset it claims, segment bounds), and says where the valid part ends and why it stopped.
// Used by recovery (over chunks read from segments) and by the slave (over bytes received).
import { checkRecordAt, decodeRecordIndexFields, type RecordIndexFields } from '../../common/record.js';
import { bytesToSegmentEnd } from './layout.js';

type ScanStop = 'end' | 'incomplete' | 'corrupt';

interface ScanResult {
  /** Message records found, in order. */
  records: RecordIndexFields[];
  /** Physical offset after the last whole record or padding (a padding may end past the buffer). */
  validEndPhysicalOffset: number;
  stop: ScanStop;
  reason?: string;
}

/**
 * Scans `buf`, which holds the log from `bufferPhysicalOffset` on (a record boundary). With
 * `wholePadding`, a padding record is complete only once all its bytes are in `buf` (the slave
 * copies segments byte for byte); recovery accepts a padding whose header is there.
 */
export function scanLog(buf: Buffer, bufferPhysicalOffset: number, segmentBytes: number, wholePadding = false): ScanResult {
  const records: RecordIndexFields[] = [];
  let position = 0;
  while (position < buf.length) {
    const physicalOffset = bufferPhysicalOffset + position;
    const check = checkRecordAt(buf, position, bytesToSegmentEnd(physicalOffset, segmentBytes), physicalOffset);
    switch (check.kind) {
      case 'record':
        records.push(decodeRecordIndexFields(buf, position));
        position += check.size;
        break;
      case 'padding':
        if (wholePadding && position + check.size > buf.length) return { records, validEndPhysicalOffset: physicalOffset, stop: 'incomplete' };
        position += check.size;
        break;
      case 'incomplete':
        return { records, validEndPhysicalOffset: physicalOffset, stop: 'incomplete' };
      case 'corrupt':
        return { records, validEndPhysicalOffset: physicalOffset, stop: 'corrupt', reason: check.reason };
      default:
        return unreachableCheck(check);
    }
  }
  return { records, validEndPhysicalOffset: bufferPhysicalOffset + position, stop: 'end' };
}

function unreachableCheck(value: never): never {
  throw new Error(`unreachable record check ${String(value)}`);
}
