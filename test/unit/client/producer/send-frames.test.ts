import { describe, expect, it } from 'vitest';
import { groupIntoFrames, SEND_FRAME_BYTES_MAX } from '../../../../client/producer/send-frames.js';
import { encodeSendRequest } from '../../../../client/producer/send-request-encoder.js';
import { encodeMultiRequestFrame, SEND_FRAME_REQUESTS_MAX } from '../../../../common/stream-frames.js';
import { conveyor } from '../../../../proto/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('grouping one broker\'s sends into frames', () => {
  it('puts the sends of several queues ready together into one frame', () => {
    expect(groupIntoFrames(Array.from({ length: 8 }, () => 36 * KiB))).toEqual([8]);
  });

  it('cuts a frame at SEND_FRAME_REQUESTS_MAX sends', () => {
    expect(groupIntoFrames(Array.from({ length: 2 * SEND_FRAME_REQUESTS_MAX + 3 }, () => 100))).toEqual([SEND_FRAME_REQUESTS_MAX, SEND_FRAME_REQUESTS_MAX, 3]);
    expect(groupIntoFrames([1, 2, 3, 4, 5], 2, MiB)).toEqual([2, 2, 1]);
  });

  it('cuts a frame before the send that would take it past SEND_FRAME_BYTES_MAX, in order', () => {
    expect(groupIntoFrames([3 * MiB, 2 * MiB, 1 * MiB, KiB])).toEqual([1, 3]);
    expect(groupIntoFrames([2 * MiB, 2 * MiB, 1])).toEqual([2, 1]);
    expect(SEND_FRAME_BYTES_MAX).toBe(4 * MiB);
  });

  it('sends a send larger than the byte bound in a frame of its own', () => {
    expect(groupIntoFrames([KiB, 5 * MiB, KiB, KiB])).toEqual([1, 1, 2]);
    expect(groupIntoFrames([])).toEqual([]);
  });
});

describe('the multi-send frame', () => {
  it('is the SendStreamRequest the generated code encodes: id, timeout, one `requests` entry per send', () => {
    const requests = [0, 1, 2].map((queueId) => encodeSendRequest({ topic: 't', queueId, producerGroup: 'pg', messages: [{ messageId: `id-${queueId}`, keys: [], tag: '', properties: {}, body: Buffer.from(`b${queueId}`), bornTimestampMs: 5, flags: 0 }], acceptsStoredBatch: true }));
    const frame = encodeMultiRequestFrame(300, 3_000, requests);
    const expected = conveyor.SendStreamRequest.encode({ id: 300, timeoutMs: 3_000, requests: requests.map((r) => conveyor.SendRequest.decode(r)) }).finish();
    expect(Buffer.from(frame).equals(Buffer.from(expected))).toBe(true);
    const decoded = conveyor.SendStreamRequest.decode(frame);
    expect(decoded.request).toBeNull();
    expect(decoded.requests.map((r) => [r.queueId, r.messages?.[0]?.messageId])).toEqual([[0, 'id-0'], [1, 'id-1'], [2, 'id-2']]);
    expect(conveyor.SendStreamRequest.decode(encodeMultiRequestFrame(1, 0, requests)).timeoutMs).toBe(0);
  });
});
