import { describe, expect, it } from 'vitest';
import { sendRequestsOf, serveSends } from '../../../../broker/services/send-multi.js';
import type { RequestRunner } from '../../../../broker/services/request-runner.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { SEND_FRAME_REQUESTS_MAX } from '../../../../common/stream-frames.js';
import { conveyor } from '../../../../proto/index.js';

/** The runner's shape without gate or metrics: runs `fn` at once, as the real one does. */
const run: RequestRunner = async (_method, fn) => fn();

function requestFor(queueId: number): conveyor.SendRequest {
  return conveyor.SendRequest.create({ topic: 't', queueId, producerGroup: 'pg', messages: [{ messageId: `m${queueId}`, body: Buffer.from('x') }] });
}

describe('a SendStream frame with several queues\' sends', () => {
  it('is told apart from a plain frame by `requests` without `request`', () => {
    const many = conveyor.SendStreamRequest.decode(conveyor.SendStreamRequest.encode({ id: 1, requests: [requestFor(0), requestFor(1)] }).finish());
    expect(sendRequestsOf(many)?.map((r) => r.queueId)).toEqual([0, 1]);
    const plain = conveyor.SendStreamRequest.decode(conveyor.SendStreamRequest.encode({ id: 2, request: requestFor(0) }).finish());
    expect(sendRequestsOf(plain)).toBeUndefined();
    const both = conveyor.SendStreamRequest.decode(conveyor.SendStreamRequest.encode({ id: 3, request: requestFor(0), requests: [requestFor(1)] }).finish());
    expect(sendRequestsOf(both)).toBeUndefined();
  });

  it('starts every send before any of them finishes, and answers each with its own result or error, in order', async () => {
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const answered = serveSends([requestFor(0), requestFor(1), requestFor(2)], run, (request) => {
      started.push(request.queueId);
      if (request.queueId === 1) return Promise.reject(new ConveyorError(ErrorCode.INVALID_ARGUMENT, 'queue 1 is not writable', {}));
      return new Promise<conveyor.ISendResponse>((resolve) => finish.push(() => resolve({ results: [{ messageId: `m${request.queueId}`, queueId: request.queueId }] })));
    });
    // All three were issued in the same tick (their appends can share one group commit).
    expect(started).toEqual([0, 1, 2]);
    for (const f of finish) f();
    const { results } = await answered;
    expect(results?.map((r) => r.response?.results?.[0]?.queueId ?? null)).toEqual([0, null, 2]);
    expect(results?.[1]?.error?.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(results?.[0]?.error ?? null).toBeNull();
  });

  it(`refuses a frame of more than ${SEND_FRAME_REQUESTS_MAX} sends without serving any`, async () => {
    let served = 0;
    const sends = Array.from({ length: SEND_FRAME_REQUESTS_MAX + 1 }, (_, i) => requestFor(i));
    await expect(serveSends(sends, run, async () => {
      served++;
      return {};
    })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    expect(served).toBe(0);
  });
});
