// Several queues' sends in one SendStream frame, against real processes with sync flush and sync
// replication: many concurrent single sends over 8 queues all succeed with contiguous offsets per
// queue and unique ids while going out in fewer frames than send RPCs; one frame's sends succeed
// or fail each on its own; a frame over the bound is refused whole.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, type SendResult } from '../../client/index.js';
import { SEND_MULTI_STREAM_METHOD } from '../../client/producer/send-frames.js';
import { encodeSendRequest } from '../../client/producer/send-request-encoder.js';
import { StreamMux } from '../../client/transport/stream-mux.js';
import { ErrorCode } from '../../common/errors.js';
import { CHANNEL_OPTIONS } from '../../common/grpc.js';
import { SEND_FRAME_REQUESTS_MAX } from '../../common/stream-frames.js';
import { startTestCluster, type TestCluster } from './client-fixture.js';

const QUEUES = 8;
const SENDS = 4_000;
/** Sends outstanding at once, as the suite's sync case (256 in flight). */
const WINDOW = 256;

describe('several queues\' sends in one frame (sync flush + sync replication)', () => {
  let cluster: TestCluster;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await startTestCluster({ groups: ['broker-a'], slavesFor: ['broker-a'], brokerArgs: ['--flush', 'sync', '--replication', 'sync'] });
    admin = new Admin({ nameservers: cluster.nameservers });
    await admin.start();
  });

  afterAll(async () => {
    await admin?.shutdown();
  });

  it('stores every single send once, contiguous per queue, in fewer frames than send RPCs', async () => {
    expect((await admin.createTopic('multi', { queues: QUEUES, brokers: ['broker-a'] })).routed).toBe(true);
    const producer = new Producer({ nameservers: cluster.nameservers });
    await producer.start();
    try {
      // A slave must be in sync before sync sends answer OK.
      await expect.poll(async () => (await producer.send('multi', { body: 'warm-up' }).catch(() => undefined))?.status, { timeout: 30_000, interval: 200 }).toBe('OK');
      const results: SendResult[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < SENDS) {
          const i = next++;
          results.push(await producer.send('multi', { body: `m${i}` }));
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, worker));
      expect(results).toHaveLength(SENDS);
      expect(results.filter((r) => r.status !== 'OK')).toEqual([]);
      expect(new Set(results.map((r) => r.messageId)).size).toBe(SENDS);
      const byQueue = new Map<number, number[]>();
      for (const r of results) byQueue.set(r.queueId, [...(byQueue.get(r.queueId) ?? []), r.queueOffset]);
      expect(byQueue.size).toBe(QUEUES);
      // Per queue: the sends' offsets are contiguous and nothing else was stored after them (no
      // send stored twice; before them only the warm-up sends).
      const stored = await admin.describeTopic('multi');
      for (const [queueId, offsets] of byQueue) {
        offsets.sort((a, b) => a - b);
        expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i));
        expect(stored.queues.find((q) => q.brokerName === 'broker-a' && q.queueId === queueId)?.maxOffset).toBe(offsets.at(-1)! + 1);
      }
      const stats = producer.stats();
      // Coalescing: far fewer send RPCs than sends; several queues per frame: fewer frames than RPCs.
      expect(stats.sendRequests).toBeLessThan(SENDS / 4);
      expect(stats.sendFrames).toBeLessThan(stats.sendRequests / 2);
    } finally {
      await producer.shutdown();
    }
  });

  it('answers each send of one frame on its own, and refuses a frame of too many sends whole', async () => {
    await admin.createTopic('frames', { queues: 2, brokers: ['broker-a'] });
    const address = cluster.broker('broker-a').address;
    const channel = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const mux = new StreamMux(channel, SEND_MULTI_STREAM_METHOD, { target: address });
    const request = (queueId: number, id: string): Buffer =>
      encodeSendRequest({ topic: 'frames', queueId, producerGroup: 'pg', messages: [{ messageId: id, keys: [], tag: '', properties: {}, body: Buffer.from(id), bornTimestampMs: Date.now(), flags: 0 }], acceptsStoredBatch: false });
    try {
      const results = await mux.request([request(0, 'f-0'), request(7, 'f-bad'), request(1, 'f-1')], { deadlineMs: 10_000 });
      expect(results).toHaveLength(3);
      expect(results[0]?.response?.results?.[0]).toMatchObject({ messageId: 'f-0', queueId: 0 });
      expect(results[1]?.error?.code).toBe(ErrorCode.QUEUE_NOT_FOUND);
      expect(results[2]?.response?.results?.[0]).toMatchObject({ messageId: 'f-1', queueId: 1 });

      const tooMany = Array.from({ length: SEND_FRAME_REQUESTS_MAX + 1 }, (_, i) => request(i % 2, `over-${i}`));
      await expect(mux.request(tooMany, { deadlineMs: 10_000 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
      await expect(admin.getMessageById('over-0')).rejects.toMatchObject({ code: ErrorCode.MESSAGE_NOT_FOUND });
      const stored = await admin.describeTopic('frames');
      expect(stored.queues.reduce((sum, q) => sum + q.maxOffset - q.minOffset, 0)).toBe(2);
    } finally {
      mux.close();
      channel.close();
    }
  });
});
