// A Pull answer encoded once, in place: the store reads the records into a buffer with free room
// in front of them (ReadOptions.headroomBytes), the response's other fields are written into that
// room as protobuf, and grpc-js is handed the finished bytes. The records are copied once (by
// grpc-js into its frame) instead of twice (protobuf encode, then the frame), and no second buffer
// of the answer's size is allocated. The wire is unchanged: protobuf fields may come in any order,
// so `records` (field 2) simply comes last.
import { assert } from '../../common/errors.js';
import { varintBytes, writeVarint } from '../../common/varint.js';
import { conveyor } from '../../proto/index.js';

/**
 * Bytes the read path leaves in front of the records for the other fields: status (2), record
 * count (6), three offsets (3 × 11), broker name (2 + a name of at most 127 ASCII characters),
 * broker id (11) and the records' own tag and length (6) come to at most 187.
 */
export const PULL_RESPONSE_HEADROOM_BYTES = 256;

/** Field 2 (`records`), wire type 2 (length-delimited). */
const RECORDS_FIELD_TAG = (2 << 3) | 2;

/**
 * A PullResponse with its encoding done: the fields are there for in-process callers (tests,
 * metrics) and `encoded` is what goes on the wire. `records` is a view into `encoded`.
 */
export class EncodedPullResponse implements conveyor.IPullResponse {
  constructor(
    readonly status: conveyor.PullStatus,
    readonly records: Buffer,
    readonly recordCount: number,
    readonly nextQueueOffset: number,
    readonly minQueueOffset: number,
    readonly maxQueueOffset: number,
    readonly brokerName: string,
    readonly brokerId: number,
    readonly encoded: Buffer,
  ) {}
}

export interface PullResponseFields {
  status: conveyor.PullStatus;
  recordCount: number;
  nextQueueOffset: number;
  minQueueOffset: number;
  maxQueueOffset: number;
  brokerName: string;
  brokerId: number;
}

/**
 * Encodes the response around `records`, which must be `frame.subarray(headroom)` (the read
 * path's frame). Returns undefined when the other fields do not fit in the headroom (the caller
 * then answers with a plain response, encoded the usual way).
 */
export function encodePullResponseInPlace(fields: PullResponseFields, frame: Buffer, headroom: number): EncodedPullResponse | undefined {
  const recordsLength = frame.length - headroom;
  const head = conveyor.PullResponse.encode(fields).finish();
  const start = headroom - head.length - 1 - varintBytes(recordsLength);
  if (start < 0) return undefined;
  frame.set(head, start);
  let p = start + head.length;
  frame[p++] = RECORDS_FIELD_TAG;
  p = writeVarint(frame, p, recordsLength);
  assert(p === headroom, `pull response header ends at ${p}, records start at ${headroom}`);
  const records = frame.subarray(headroom);
  const { status, recordCount, nextQueueOffset, minQueueOffset, maxQueueOffset, brokerName, brokerId } = fields;
  return new EncodedPullResponse(status, records, recordCount, nextQueueOffset, minQueueOffset, maxQueueOffset, brokerName, brokerId, frame.subarray(start));
}

interface PullMethod {
  responseSerialize: (value: conveyor.IPullResponse) => Buffer;
}

/**
 * The service definition with a Pull serializer that passes an EncodedPullResponse through as its
 * bytes (grpc-js copies them into the frame) and encodes any other response as before.
 */
export function withEncodedPullResponses<Definition extends { pull: PullMethod }>(definition: Definition): Definition {
  const encode = definition.pull.responseSerialize;
  const responseSerialize = (value: conveyor.IPullResponse): Buffer => (value instanceof EncodedPullResponse ? value.encoded : encode(value));
  return { ...definition, pull: { ...definition.pull, responseSerialize } };
}
