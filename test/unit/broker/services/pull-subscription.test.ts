// Pull subscriptions on PullStream (docs/wire.md "Pull subscriptions") over loopback: the broker's
// own handlers over a real store, the client's StreamMux on a real channel. Counts request frames
// per answer (one subscribe frame for many answers, against one pull frame per answer), credit and
// top-ups, tag filtering, offset errors, cancel and the bounds, shutdown, a broken stream, and a
// broker that predates subscriptions. No timing assertions: counts and order only.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { createBrokerHandlers } from '../../../../broker/services/handlers.js';
import { RequestGate } from '../../../../broker/services/request-runner.js';
import { PULL_SUBSCRIPTIONS_PER_STREAM_MAX } from '../../../../broker/services/pull-subscription.js';
import { withEncodedPullResponses } from '../../../../broker/services/pull-response.js';
import { PullService } from '../../../../broker/services/pull.js';
import { withStreamCodecs } from '../../../../broker/services/stream-codecs.js';
import { SubscriptionCredit, topUpThreshold } from '../../../../client/consumer/queue-subscription.js';
import { isUnreachable } from '../../../../client/retry-policy.js';
import { PULL_STREAM_METHOD, SEND_STREAM_METHOD, StreamMux, type MuxSubscription } from '../../../../client/transport/stream-mux.js';
import type { ConveyorError } from '../../../../common/errors.js';
import { CHANNEL_OPTIONS, bindServer } from '../../../../common/grpc.js';
import { decodeRecords } from '../../../../common/record.js';
import { BrokerService, conveyor } from '../../../../proto/index.js';
import { openTestBroker } from './service-context.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  address: string;
  gate: RequestGate;
  longPolls: LongPollTable;
  server: grpc.Server;
  pull: PullService;
  /** Request frames the broker read on PullStreams. */
  pullFrames: () => number;
}

async function serve(): Promise<Served> {
  const { longPolls, gate, ctx, services, log } = await openTestBroker('conveyor-subscriptions-', cleanups);
  const handlers = createBrokerHandlers(services, gate, ctx.metrics, log);
  let frames = 0;
  const pullStream: typeof handlers.pullStream = (call) => {
    call.on('data', () => frames++);
    handlers.pullStream(call);
  };
  const server = new grpc.Server();
  server.addService(withStreamCodecs(withEncodedPullResponses(BrokerService)), { ...handlers, pullStream });
  const port = await bindServer(server, '127.0.0.1', 0);
  cleanups.push(() => server.forceShutdown());
  return { address: `127.0.0.1:${port}`, gate, longPolls, server, pull: services.pull, pullFrames: () => frames };
}

function channel(address: string): grpc.Client {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  cleanups.push(() => client.close());
  return client;
}

function muxes(address: string): { sends: StreamMux<conveyor.ISendRequest, conveyor.SendResponse>; pulls: StreamMux<conveyor.IPullRequest, conveyor.PullResponse> } {
  const client = channel(address);
  const sends = new StreamMux(client, SEND_STREAM_METHOD, { target: address });
  const pulls = new StreamMux(client, PULL_STREAM_METHOD, { target: address });
  cleanups.push(() => sends.close(), () => pulls.close());
  return { sends, pulls };
}

function subscribeOf(queueId: number, queueOffset = 0, tagExpression = '*'): conveyor.IPullRequest {
  return { consumerGroup: 'g', topic: 't', queueId, queueOffset, maxCount: 32, tagExpression, maxWaitMs: 1_000 };
}

/** What a subscription delivered: each answer's ids and next offset, whether it stayed open, and how it failed. */
interface Recorded {
  answers: Array<{ ids: string[]; next: number; open: boolean }>;
  ids: () => string[];
  error: ConveyorError | undefined;
}

function recorder(): Recorded & { listener: Parameters<StreamMux<conveyor.IPullRequest, conveyor.PullResponse>['subscribe']>[3] } {
  const recorded: Recorded = { answers: [], ids: () => recorded.answers.flatMap((a) => a.ids), error: undefined };
  return Object.assign(recorded, {
    listener: {
      answer: (response: conveyor.PullResponse, open: boolean) => {
        const ids = [...decodeRecords(Buffer.from(response.records))].map((r) => r.messageId);
        recorded.answers.push({ ids, next: Number(response.nextQueueOffset), open });
      },
      failed: (err: ConveyorError) => (recorded.error = err),
    },
  });
}

async function send(sends: StreamMux<conveyor.ISendRequest, conveyor.SendResponse>, queueId: number, ids: string[], tag?: string): Promise<void> {
  await sends.request({ topic: 't', queueId, producerGroup: 'pg', messages: ids.map((id) => ({ messageId: id, body: Buffer.from(id), bornTimestampMs: 1, ...(tag === undefined ? {} : { tag }) })) }, { deadlineMs: 5_000 });
}

describe('pull subscriptions', () => {
  it('answers every send that lands with no request frame per answer, where plain pulls need one each', async () => {
    const b = await serve();
    const { sends, pulls } = muxes(b.address);
    const sub = recorder();
    pulls.subscribe(subscribeOf(1), 1_000, 5_000, sub.listener);
    await expect.poll(() => b.longPolls.size).toBe(1); // subscribed and waiting
    for (let i = 0; i < 10; i++) {
      await send(sends, 1, [`m-${i}`]);
      await expect.poll(() => sub.answers.length).toBe(i + 1);
    }
    expect(sub.ids()).toEqual(Array.from({ length: 10 }, (_, i) => `m-${i}`));
    expect(sub.answers.every((a) => a.open)).toBe(true);
    expect(sub.answers.map((a) => a.next)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(b.pullFrames()).toBe(1);

    // The same ten answers by long-poll pulls: one request frame each.
    const before = b.pullFrames();
    for (let i = 0; i < 10; i++) {
      const held = pulls.request({ ...subscribeOf(2, i), maxWaitMs: 10_000 }, { deadlineMs: 15_000 });
      await expect.poll(() => b.longPolls.size).toBe(2);
      await send(sends, 2, [`p-${i}`]);
      expect((await held).recordCount).toBe(1);
    }
    expect(b.pullFrames() - before).toBe(10);
  });

  it('sends no more messages than the credit granted and goes on after a top-up, in order and without gaps', async () => {
    const b = await serve();
    const { sends, pulls } = muxes(b.address);
    await send(sends, 0, ['a', 'b', 'c', 'd', 'e']);
    const sub = recorder();
    const handle: MuxSubscription = pulls.subscribe(subscribeOf(0), 3, 5_000, sub.listener);
    await expect.poll(() => sub.ids().length).toBe(3);
    // A pull on the same stream answers after anything the subscription had written before it.
    await pulls.request(subscribeOf(3), { deadlineMs: 5_000 });
    await send(sends, 0, ['f']);
    await pulls.request(subscribeOf(3), { deadlineMs: 5_000 });
    expect(sub.ids()).toEqual(['a', 'b', 'c']);
    handle.grant(2);
    await expect.poll(() => sub.ids().length).toBe(5);
    handle.grant(10);
    await expect.poll(() => sub.ids().length).toBe(6);
    expect(sub.ids()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(b.pullFrames()).toBe(1 + 2 + 2); // subscribe, two pulls, two top-ups
  });

  it('filters by tag at the broker and moves the offset past what did not match', async () => {
    const b = await serve();
    const { sends, pulls } = muxes(b.address);
    const sub = recorder();
    pulls.subscribe(subscribeOf(1, 0, 'red'), 100, 5_000, sub.listener);
    await expect.poll(() => b.longPolls.size).toBe(1);
    await send(sends, 1, ['r-1'], 'red');
    await send(sends, 1, ['b-1', 'b-2'], 'blue');
    await send(sends, 1, ['r-2'], 'red');
    await expect.poll(() => sub.ids()).toEqual(['r-1', 'r-2']);
    await expect.poll(() => sub.answers.at(-1)?.next).toBe(4);
  });

  it('ends with OFFSET_OUT_OF_RANGE for an offset past the end, holding nothing', async () => {
    const b = await serve();
    const { pulls } = muxes(b.address);
    const sub = recorder();
    pulls.subscribe(subscribeOf(1, 7), 10, 5_000, sub.listener);
    await expect.poll(() => sub.error?.codeName).toBe('OFFSET_OUT_OF_RANGE');
    expect(b.pull.subscriptions.open).toBe(0);
    expect(b.longPolls.size).toBe(0);
  });

  it('releases everything at the broker when cancelled, and ignores answers after it', async () => {
    const b = await serve();
    const { sends, pulls } = muxes(b.address);
    const sub = recorder();
    const handle = pulls.subscribe(subscribeOf(1), 10, 5_000, sub.listener);
    await expect.poll(() => b.longPolls.size).toBe(1);
    expect(b.pull.subscriptions.open).toBe(1);
    handle.cancel();
    await expect.poll(() => b.pull.subscriptions.open).toBe(0);
    expect(b.longPolls.size).toBe(0);
    await send(sends, 1, ['late']);
    await pulls.request(subscribeOf(3), { deadlineMs: 5_000 });
    expect(sub.answers).toEqual([]);
    expect(sub.error).toBeUndefined();
    expect(pulls.pendingCount).toBe(0);
  });

  it(`refuses more than ${PULL_SUBSCRIPTIONS_PER_STREAM_MAX} subscriptions on one stream with SERVICE_UNAVAILABLE`, async () => {
    const b = await serve();
    const { pulls } = muxes(b.address);
    const subs = Array.from({ length: PULL_SUBSCRIPTIONS_PER_STREAM_MAX + 1 }, () => recorder());
    for (const sub of subs) pulls.subscribe(subscribeOf(0), 10, 5_000, sub.listener);
    await expect.poll(() => subs.filter((s) => s.error !== undefined).length).toBe(1);
    expect(subs.at(-1)?.error?.codeName).toBe('SERVICE_UNAVAILABLE');
    expect(b.pull.subscriptions.open).toBe(PULL_SUBSCRIPTIONS_PER_STREAM_MAX);
  });

  it('ends the subscriptions of a client that half-closes its stream (it could no longer top up or cancel)', async () => {
    const b = await serve();
    const client = channel(b.address);
    const stream = client.makeBidiStreamRequest<Buffer, Buffer>(BrokerService.pullStream.path, (frame) => frame, (bytes) => bytes);
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    stream.write(Buffer.from(conveyor.PullStreamRequest.encode({ id: 1, request: subscribeOf(1), subscribeCredit: 10 }).finish()));
    await expect.poll(() => b.pull.subscriptions.open).toBe(1);
    stream.end();
    await expect.poll(() => b.pull.subscriptions.open).toBe(0);
    expect(b.longPolls.size).toBe(0);
  });

  it('ends subscriptions with SHUTTING_DOWN when the broker shuts down', async () => {
    const b = await serve();
    const { pulls } = muxes(b.address);
    const sub = recorder();
    pulls.subscribe(subscribeOf(1), 10, 5_000, sub.listener);
    await expect.poll(() => b.pull.subscriptions.open).toBe(1);
    b.gate.close();
    await expect.poll(() => sub.error?.codeName).toBe('SHUTTING_DOWN');
    await expect.poll(() => b.pull.subscriptions.open).toBe(0);
  });

  it('fails a subscription with a retryable code when the stream breaks', async () => {
    const b = await serve();
    const { pulls } = muxes(b.address);
    const sub = recorder();
    pulls.subscribe(subscribeOf(1), 10, 5_000, sub.listener);
    await expect.poll(() => b.pull.subscriptions.open).toBe(1);
    b.server.forceShutdown();
    await expect.poll(() => sub.error !== undefined).toBe(true);
    expect(isUnreachable(sub.error!.code)).toBe(true);
    await expect.poll(() => b.pull.subscriptions.open).toBe(0);
  });

  it('takes a plain answer from a broker that predates subscriptions as the only one, and remembers it', async () => {
    // An older broker: it ignores subscribe_credit and answers the pull once, without `subscribed`.
    const server = new grpc.Server();
    server.addService(withStreamCodecs(withEncodedPullResponses(BrokerService)), {
      pullStream: (call: grpc.ServerDuplexStream<conveyor.PullStreamRequest, conveyor.IPullStreamResponse>) => {
        call.on('data', (frame: conveyor.PullStreamRequest) => {
          call.write({ id: frame.id, response: { status: conveyor.PullStatus.PULL_NO_NEW_MESSAGE, nextQueueOffset: frame.request?.queueOffset ?? 0 } });
        });
      },
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await bindServer(server, '127.0.0.1', 0);
    cleanups.push(() => server.forceShutdown());
    const { pulls } = muxes(`127.0.0.1:${port}`);
    const sub = recorder();
    pulls.subscribe(subscribeOf(1, 4), 10, 5_000, sub.listener);
    await expect.poll(() => sub.answers.length).toBe(1);
    expect(sub.answers[0]).toEqual({ ids: [], next: 4, open: false });
    expect(pulls.subscriptionsRefused).toBe(true);
    expect(pulls.pendingCount).toBe(0);
  });
});

describe('subscription credit', () => {
  it('never lets granted-but-unreceived plus cached exceed the cache, and tops up in steps of at least half of it', () => {
    const cache = 1_000;
    const credit = new SubscriptionCredit(topUpThreshold(cache));
    let cached = 0;
    expect(credit.initial(cache - cached)).toBe(1_000);
    const grants: number[] = [];
    // 40 answers of 30 messages; every 10th answer the handlers finish 300 of the cached.
    for (let i = 0; i < 40; i++) {
      credit.received(30);
      cached += 30;
      if (i % 10 === 9) cached -= 300;
      const more = credit.topUp(cache - cached);
      if (more > 0) grants.push(more);
      expect(credit.outstanding + cached).toBeLessThanOrEqual(cache);
    }
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.every((g) => g >= 500)).toBe(true);
    expect(topUpThreshold(1)).toBe(1);
  });
});
