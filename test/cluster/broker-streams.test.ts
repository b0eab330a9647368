// SendStream and PullStream against a real broker process: sends and pulls multiplexed on one
// stream each, answers out of order, and a clean SIGTERM while a pull is held on a stream (the
// held pull is answered, the stream does not hold the shutdown up, later requests fail retryably).
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnreachable } from '../../client/retry-policy.js';
import { PULL_STREAM_METHOD, SEND_STREAM_METHOD, StreamMux } from '../../client/transport/stream-mux.js';
import { isConveyorError } from '../../common/errors.js';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { decodeRecords } from '../../common/record.js';
import { BrokerService, conveyor } from '../../proto/index.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const CALL_DEADLINE_MS = 5_000;
const dir = tempDir('conveyor-broker-streams-');
let master: RunningProcess;
let metricsUrl = '';
let channel: grpc.Client;
let sends: StreamMux<conveyor.ISendRequest, conveyor.SendResponse>;
let pulls: StreamMux<conveyor.IPullRequest, conveyor.PullResponse>;

/** Pulls the broker holds right now (its long-poll gauge). */
async function heldPulls(): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('conveyor_broker_long_poll_waiting'));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

function message(id: string): conveyor.IMessageInput {
  return { messageId: id, body: Buffer.from(`body of ${id}`), bornTimestampMs: Date.now() };
}

function pullOf(queueId: number, queueOffset: number, maxWaitMs = 0): conveyor.IPullRequest {
  return { consumerGroup: 'g', topic: 'streams', queueId, queueOffset, maxCount: 32, maxWaitMs };
}

beforeAll(async () => {
  const [nsPort, nsHttp, port, httpPort] = (await freePorts(4)) as [number, number, number, number];
  const ns = spawnConveyor({ name: 'nameserver', logDir: dir, args: ['nameserver', '--port', String(nsPort), '--http-port', String(nsHttp)] });
  await waitReady(ns, nsHttp);
  master = spawnConveyor({
    name: 'broker-a-0',
    logDir: dir,
    args: ['broker', '--cluster', 'TestCluster', '--name', 'broker-a', '--id', '0', '--port', String(port), '--http-port', String(httpPort), '--nameservers', `127.0.0.1:${nsPort}`, '--data', join(dir, 'broker-a-0')],
  });
  await waitReady(master, httpPort);
  metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
  const address = `127.0.0.1:${port}`;
  channel = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  sends = new StreamMux(channel, SEND_STREAM_METHOD, { target: address });
  pulls = new StreamMux(channel, PULL_STREAM_METHOD, { target: address });
  await callUnary(channel, BrokerService.upsertTopic, { config: { topicName: 'streams', readQueueCount: 4, writeQueueCount: 4, perm: 6 } }, CALL_DEADLINE_MS);
});

afterAll(() => {
  sends.close();
  pulls.close();
  channel.close();
});

describe('a broker serving SendStream and PullStream', () => {
  it('multiplexes sends and pulls, answering a quick pull while another is held', async () => {
    const stored = await Promise.all([0, 1, 2].map((queueId) => sends.request({ topic: 'streams', queueId, producerGroup: 'pg', messages: [message(`m-${queueId}`)] }, { deadlineMs: CALL_DEADLINE_MS })));
    expect(stored.map((answer) => answer.results[0]?.queueOffset)).toEqual([0, 0, 0]);
    let heldAnswered = false;
    const held = pulls.request(pullOf(3, 0, 10_000), { deadlineMs: 15_000 }).finally(() => (heldAnswered = true));
    const quick = await Promise.all([0, 1, 2].map((queueId) => pulls.request(pullOf(queueId, 0), { deadlineMs: CALL_DEADLINE_MS })));
    expect(quick.map((answer) => [...decodeRecords(Buffer.from(answer.records))].map((r) => r.messageId))).toEqual([['m-0'], ['m-1'], ['m-2']]);
    expect(heldAnswered).toBe(false);
    await sends.request({ topic: 'streams', queueId: 3, producerGroup: 'pg', messages: [message('m-3')] }, { deadlineMs: CALL_DEADLINE_MS });
    expect([...decodeRecords(Buffer.from((await held).records))].map((r) => r.messageId)).toEqual(['m-3']);
  });

  it('stops cleanly on SIGTERM with a pull held on a stream; later requests fail as unreachable', async () => {
    const held = pulls.request(pullOf(0, 1, 10_000), { deadlineMs: 15_000 });
    held.catch(() => undefined); // awaited below; this keeps an early failure from also being reported unhandled
    await expect.poll(heldPulls).toBe(1);
    const stopped = master.stop(8_000);
    const answer = await held;
    expect(answer.status).toBe(conveyor.PullStatus.PULL_NO_NEW_MESSAGE);
    expect(await stopped).toBe(0);
    const after = await sends.request({ topic: 'streams', queueId: 0, producerGroup: 'pg', messages: [message('late')] }, { deadlineMs: 2_000 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isConveyorError(after) && isUnreachable(after.code)).toBe(true);
  });
});
