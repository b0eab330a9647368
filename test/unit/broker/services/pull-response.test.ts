// Pull answers encoded in place around the records: the bytes decode to the same response a
// plain protobuf encoding gives, and the service definition passes them through untouched.
import { describe, expect, it } from 'vitest';
import {
  EncodedPullResponse,
  encodePullResponseInPlace,
  PULL_RESPONSE_HEADROOM_BYTES,
  withEncodedPullResponses,
  type PullResponseFields,
} from '../../../../broker/services/pull-response.js';
import { BrokerService, conveyor } from '../../../../proto/index.js';

const fields: PullResponseFields = {
  status: conveyor.PullStatus.PULL_FOUND,
  recordCount: 3,
  nextQueueOffset: 2 ** 40 + 7,
  minQueueOffset: 0,
  maxQueueOffset: 2 ** 52,
  brokerName: 'broker-a',
  brokerId: 1,
};

/** A frame as the read path makes it: headroom (garbage) then the records. */
function frameWith(records: Buffer, headroom = PULL_RESPONSE_HEADROOM_BYTES): Buffer {
  const frame = Buffer.alloc(headroom + records.length, 0xee);
  records.copy(frame, headroom);
  return frame;
}

describe('pull response encoded in place', () => {
  it.each([0, 1, 127, 128, 16_383, 16_384, 300_000])('decodes to the same fields and records (%i record bytes)', (length) => {
    const records = Buffer.alloc(length);
    for (let i = 0; i < length; i++) records[i] = (i * 31) & 0xff;
    const frame = frameWith(records);
    const encoded = encodePullResponseInPlace(fields, frame, PULL_RESPONSE_HEADROOM_BYTES);
    expect(encoded).toBeInstanceOf(EncodedPullResponse);
    const decoded = conveyor.PullResponse.decode(encoded!.encoded);
    expect(Buffer.from(decoded.records).equals(records)).toBe(true);
    expect(decoded.status).toBe(fields.status);
    expect(decoded.recordCount).toBe(fields.recordCount);
    expect(Number(decoded.nextQueueOffset)).toBe(fields.nextQueueOffset);
    expect(Number(decoded.minQueueOffset)).toBe(fields.minQueueOffset);
    expect(Number(decoded.maxQueueOffset)).toBe(fields.maxQueueOffset);
    expect(decoded.brokerName).toBe(fields.brokerName);
    expect(Number(decoded.brokerId)).toBe(fields.brokerId);
    // The in-process fields and the wire bytes share the records: nothing was copied.
    expect(encoded!.records.buffer).toBe(frame.buffer);
    expect(encoded!.encoded.buffer).toBe(frame.buffer);
    expect(encoded!.records.equals(records)).toBe(true);
  });

  it('fits the longest broker name and largest offsets in the headroom', () => {
    const longest = { ...fields, brokerName: 'b'.repeat(127), nextQueueOffset: 2 ** 53 - 1, minQueueOffset: 2 ** 53 - 1, maxQueueOffset: 2 ** 53 - 1, recordCount: 2 ** 32 - 1, brokerId: 2 ** 53 - 1 };
    const encoded = encodePullResponseInPlace(longest, frameWith(Buffer.alloc(20_000_000)), PULL_RESPONSE_HEADROOM_BYTES);
    expect(encoded).toBeDefined();
    expect(conveyor.PullResponse.decode(encoded!.encoded).brokerName).toBe(longest.brokerName);
  });

  it('gives up (undefined) when the fields do not fit in the headroom', () => {
    expect(encodePullResponseInPlace(fields, frameWith(Buffer.alloc(10), 8), 8)).toBeUndefined();
  });

  it('is passed through by the Pull serializer; other responses are encoded as before', () => {
    const definition = withEncodedPullResponses(BrokerService);
    const encoded = encodePullResponseInPlace(fields, frameWith(Buffer.from('records')), PULL_RESPONSE_HEADROOM_BYTES)!;
    expect(definition.pull.responseSerialize(encoded)).toBe(encoded.encoded);
    const plain = { ...fields, records: Buffer.from('records') };
    expect(definition.pull.responseSerialize(plain).equals(BrokerService.pull.responseSerialize(plain))).toBe(true);
    expect(definition.send).toBe(BrokerService.send);
    expect(BrokerService.pull.responseSerialize(encoded).equals(encoded.encoded)).toBe(false);
  });
});
