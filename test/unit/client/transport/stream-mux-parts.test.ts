// The pure parts of the multiplexed streams: id allocation, the bounded pending map and its
// deadline sweep, the hand-written frame header (checked against the generated codecs), and the
// one error mapping shared by unary calls and stream error frames.
import { describe, expect, it } from 'vitest';
import { PendingRequests, type PendingRequest } from '../../../../client/transport/pending-requests.js';
import { isRetryableSendError, isUnreachable } from '../../../../client/retry-policy.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { fromErrorDetail, fromServiceError, toErrorDetail, toServiceError } from '../../../../common/grpc.js';
import { encodeRequestFrame, FRAME_ID_MAX, FRAME_RESPONSE_TAG, frameHeaderBytes, peekFrameId, writeFrameHeader } from '../../../../common/stream-frames.js';
import { conveyor } from '../../../../proto/index.js';

function entry(deadlineAtMs: number, log: string[] = [], name = ''): PendingRequest<string> {
  return { resolve: () => log.push(`resolve ${name}`), reject: () => log.push(`reject ${name}`), deadlineAtMs, cleanup: () => log.push(`cleanup ${name}`) };
}

describe('pending requests of a stream', () => {
  it('hands out increasing ids from 1 and finds each by its id once', () => {
    const pending = new PendingRequests<string>(8);
    const ids = [pending.add(entry(10)), pending.add(entry(10)), pending.add(entry(10))];
    expect(ids).toEqual([1, 2, 3]);
    expect(pending.take(2)).toBeDefined();
    expect(pending.take(2)).toBeUndefined();
    expect(pending.size).toBe(2);
  });

  it('never reuses an id still in flight when the counter wraps', () => {
    const pending = new PendingRequests<string>(8);
    (pending as unknown as { nextId: number }).nextId = FRAME_ID_MAX;
    const last = pending.add(entry(10));
    const wrapped = pending.add(entry(10));
    expect(last).toBe(FRAME_ID_MAX);
    expect(wrapped).toBe(1);
    (pending as unknown as { nextId: number }).nextId = 1;
    expect(pending.add(entry(10))).toBe(2);
  });

  it('is full at its bound and refuses to grow past it', () => {
    const pending = new PendingRequests<string>(2);
    pending.add(entry(10));
    pending.add(entry(10));
    expect(pending.isFull).toBe(true);
    expect(() => pending.add(entry(10))).toThrow(/more than 2 pending/);
  });

  it('sweeps out exactly the requests whose deadline has passed, and runs their cleanup', () => {
    const log: string[] = [];
    const pending = new PendingRequests<string>(8);
    const early = pending.add(entry(100, log, 'early'));
    pending.add(entry(300, log, 'late'));
    const middle = pending.add(entry(200, log, 'middle'));
    expect(pending.takeExpired(99)).toEqual([]);
    expect(pending.takeExpired(200).map(([id]) => id).sort()).toEqual([early, middle].sort());
    expect(log.sort()).toEqual(['cleanup early', 'cleanup middle']);
    expect(pending.size).toBe(1);
    expect(pending.takeExpired(299)).toEqual([]);
    expect(pending.takeExpired(300)).toHaveLength(1);
  });

  it('skips the scan while nothing can have expired', () => {
    const pending = new PendingRequests<string>(8);
    for (let i = 0; i < 5; i++) pending.add(entry(1_000 + i));
    const entries = (pending as unknown as { entries: Map<number, unknown> }).entries;
    let scans = 0;
    const iterate = entries[Symbol.iterator].bind(entries);
    entries[Symbol.iterator] = () => {
      scans++;
      return iterate();
    };
    for (let now = 0; now < 1_000; now += 50) pending.takeExpired(now);
    expect(scans).toBe(0);
    pending.takeExpired(1_000);
    expect(scans).toBe(1);
  });

  it('takes every request at once when the stream breaks', () => {
    const log: string[] = [];
    const pending = new PendingRequests<string>(8);
    pending.add(entry(1, log, 'a'));
    pending.add(entry(2, log, 'b'));
    expect(pending.takeAll()).toHaveLength(2);
    expect(pending.size).toBe(0);
    expect(log).toEqual(['cleanup a', 'cleanup b']);
  });
});

describe('stream frames', () => {
  it('writes request frames the generated decoder reads back, with the nested request untouched', () => {
    const request = conveyor.PullRequest.encode({ consumerGroup: 'g', topic: 't', queueId: 3, queueOffset: 2 ** 40, maxWaitMs: 5_000 }).finish();
    for (const [id, timeoutMs] of [[1, 3_000], [300, 0], [2 ** 52 + 7, 0xffff_ffff]] as const) {
      const frame = conveyor.PullStreamRequest.decode(encodeRequestFrame(id, timeoutMs, request));
      expect(frame.id).toBe(id);
      expect(frame.timeoutMs).toBe(timeoutMs);
      expect(frame.cancel).toBe(false);
      expect(frame.request).toMatchObject({ consumerGroup: 'g', topic: 't', queueId: 3, queueOffset: 2 ** 40, maxWaitMs: 5_000 });
    }
  });

  it('writes a response header that nests encoded bytes as the generated encoder would', () => {
    const response = { status: conveyor.PullStatus.PULL_FOUND, records: Buffer.from('abc'), recordCount: 1, nextQueueOffset: 9, brokerName: 'broker-a' };
    const nested = conveyor.PullResponse.encode(response).finish();
    const header = frameHeaderBytes(77, nested.length);
    const frame = Buffer.alloc(header + nested.length);
    frame.set(nested, writeFrameHeader(frame, 0, 77, FRAME_RESPONSE_TAG, nested.length));
    expect(frame.equals(Buffer.from(conveyor.PullStreamResponse.encode({ id: 77, response }).finish()))).toBe(true);
  });

  it('reads the id of a frame that does not decode, and 0 when there is none', () => {
    expect(peekFrameId(Buffer.from([0x08, 0x96, 0x01, 0x1a, 0xff]))).toBe(150);
    expect(peekFrameId(Buffer.from([0x1a, 0x05]))).toBe(0);
    expect(peekFrameId(Buffer.from([0x08, 0x80]))).toBe(0);
    expect(peekFrameId(Buffer.alloc(0))).toBe(0);
  });
});

describe('one error mapping for calls and frames', () => {
  it('rebuilds from an error frame the same ConveyorError a failed unary call gives', () => {
    const thrown = new ConveyorError(ErrorCode.OFFSET_OUT_OF_RANGE, 'offset 9 outside [0, 4]', { minOffset: 0, maxOffset: 4 });
    const viaCall = fromServiceError(toServiceError(thrown), 'host:1');
    const detail = conveyor.ErrorDetail.decode(conveyor.ErrorDetail.encode(toErrorDetail(thrown)).finish());
    const viaFrame = fromErrorDetail(detail, 'host:1', detail);
    expect(viaFrame.code).toBe(viaCall.code);
    expect(viaFrame.message).toBe(viaCall.message);
    expect(viaFrame.fields).toEqual(viaCall.fields);
  });

  it('turns anything that is not a ConveyorError into INTERNAL, as the unary path does', () => {
    const detail = toErrorDetail(new TypeError('boom'));
    expect(detail.code).toBe(ErrorCode.INTERNAL);
    expect(detail.message).toBe('internal error: boom');
    expect(fromServiceError(toServiceError(new TypeError('boom'))).message).toBe(detail.message);
  });

  it('keeps SHUTTING_DOWN from a frame retryable and unreachable', () => {
    const err = fromErrorDetail(toErrorDetail(new ConveyorError(ErrorCode.SHUTTING_DOWN, 'stopping', {})), 'b:1', undefined);
    expect(isUnreachable(err.code)).toBe(true);
    expect(isRetryableSendError(err.code)).toBe(true);
  });
});
