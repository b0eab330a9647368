// SendStream and PullStream over loopback: a real grpc-js server with the broker's own handlers
// (createBrokerHandlers, the codecs broker.ts registers) over real services and a real store in a
// temp directory, and the client's StreamMux on a real channel. Out-of-order answers, deadlines,
// cancellation, a stream broken mid-flight, the shutdown gate, both bounds and malformed frames.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { LongPollTable } from '../../../../broker/consumers/long-poll.js';
import { createBrokerHandlers } from '../../../../broker/services/handlers.js';
import { RequestGate } from '../../../../broker/services/request-runner.js';
import { EncodedPullResponse, withEncodedPullResponses } from '../../../../broker/services/pull-response.js';
import { PullService } from '../../../../broker/services/pull.js';
import { encodePullStreamResponse, freeBytesBefore, withStreamCodecs } from '../../../../broker/services/stream-codecs.js';
import { MessageStore } from '../../../../broker/store/index.js';
import { BrokerConnections, isCancelled } from '../../../../client/transport/broker-connections.js';
import { isRetryableSendError, isUnreachable } from '../../../../client/retry-policy.js';
import { PULL_STREAM_METHOD, SEND_STREAM_METHOD, StreamMux, isStreamUnsupported } from '../../../../client/transport/stream-mux.js';
import { ConveyorError, ErrorCode, errorCodeName } from '../../../../common/errors.js';
import { CHANNEL_OPTIONS, bindServer, callUnary } from '../../../../common/grpc.js';
import { encodeRequestFrame } from '../../../../common/stream-frames.js';
import { decodeRecords } from '../../../../common/record.js';
import { BrokerService, conveyor } from '../../../../proto/index.js';
import { openTestBroker } from './service-context.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  address: string;
  port: number;
  gate: RequestGate;
  longPolls: LongPollTable;
  server: grpc.Server;
  store: MessageStore;
  pull: PullService;
  /** A new server on the same port over the same services (after forceShutdown). */
  restart(): Promise<void>;
}

async function serve(options: { framesInFlightMax?: number; onHandler?: (method: string) => void } = {}): Promise<Served> {
  const { store, longPolls, gate, ctx, services, log } = await openTestBroker('conveyor-streams-', cleanups);
  const { metrics } = ctx;
  const real = createBrokerHandlers(services, gate, metrics, log, options);
  // Each handler as registered, telling onHandler which one ran (unary Send or SendStream, …).
  const handlers = Object.fromEntries(
    Object.entries(real).map(([name, fn]) => [name, (...args: unknown[]) => {
      options.onHandler?.(name);
      return (fn as (...a: unknown[]) => unknown)(...args);
    }]),
  ) as unknown as typeof real;
  const start = async (port: number): Promise<{ server: grpc.Server; port: number }> => {
    const server = new grpc.Server();
    server.addService(withStreamCodecs(withEncodedPullResponses(BrokerService)), handlers);
    return { server, port: await bindServer(server, '127.0.0.1', port) };
  };
  const first = await start(0);
  const served: Served = {
    address: `127.0.0.1:${first.port}`,
    port: first.port,
    gate,
    longPolls,
    server: first.server,
    store,
    pull: services.pull,
    restart: async () => {
      served.server = (await start(served.port)).server;
    },
  };
  cleanups.push(() => served.server.forceShutdown());
  return served;
}

function channel(address: string): grpc.Client {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  cleanups.push(() => client.close());
  return client;
}

function mux<Req, Res>(client: grpc.Client, method: ConstructorParameters<typeof StreamMux<Req, Res>>[1], options: ConstructorParameters<typeof StreamMux<Req, Res>>[2] = {}): StreamMux<Req, Res> {
  const m = new StreamMux(client, method, options);
  cleanups.push(() => m.close());
  return m;
}

function message(id: string): conveyor.IMessageInput {
  return { messageId: id, body: Buffer.from(`body of ${id}`), bornTimestampMs: 1 };
}

function pullOf(queueId: number, queueOffset = 0, maxWaitMs = 0): conveyor.IPullRequest {
  return { consumerGroup: 'g', topic: 't', queueId, queueOffset, maxCount: 32, maxWaitMs };
}

async function rejection(promise: Promise<unknown>): Promise<ConveyorError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConveyorError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('SendStream and PullStream', () => {
  it('stores a send and pulls it back, the pull answer framed around its in-place encoding', async () => {
    const b = await serve();
    const client = channel(b.address);
    const sends = mux(client, SEND_STREAM_METHOD, { target: b.address });
    const pulls = mux(client, PULL_STREAM_METHOD, { target: b.address });
    const sent = await sends.request({ topic: 't', queueId: 1, producerGroup: 'pg', messages: [message('m-1'), message('m-2')] }, { deadlineMs: 5_000 });
    expect(sent.results.map((r) => [r.messageId, r.queueOffset])).toEqual([['m-1', 0], ['m-2', 1]]);
    const pulled = await pulls.request(pullOf(1), { deadlineMs: 5_000 });
    expect(pulled.status).toBe(conveyor.PullStatus.PULL_FOUND);
    expect([...decodeRecords(Buffer.from(pulled.records))].map((r) => r.messageId)).toEqual(['m-1', 'm-2']);
    // The answer the service built is framed in the room in front of it: same bytes as the generated encoder.
    const answer = await b.pull.pull(conveyor.PullRequest.create(pullOf(1)));
    expect(answer).toBeInstanceOf(EncodedPullResponse);
    const encoded = answer as EncodedPullResponse;
    expect(freeBytesBefore(encoded)).toBeGreaterThanOrEqual(17);
    const framed = encodePullStreamResponse({ id: 5, response: encoded });
    expect(framed.buffer).toBe(encoded.encoded.buffer);
    expect(framed.subarray(framed.length - encoded.encoded.length).equals(encoded.encoded)).toBe(true);
    const decoded = conveyor.PullStreamResponse.decode(framed);
    expect(decoded.id).toBe(5);
    expect(decoded.response).toEqual(conveyor.PullResponse.decode(encoded.encoded));
  });

  it('reads stream answers into pooled buffers, reused only after grpc-js has written them; unary answers keep their own', async () => {
    const b = await serve();
    const client = channel(b.address);
    const sends = mux(client, SEND_STREAM_METHOD, { target: b.address });
    const pulls = mux(client, PULL_STREAM_METHOD, { target: b.address });
    const body = Buffer.alloc(1024, 7);
    const ids = Array.from({ length: 512 }, (_, i) => `m-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ids.length; i += 128) {
      await sends.request({ topic: 't', queueId: 2, producerGroup: 'pg', messages: ids.slice(i, i + 128).map((id) => ({ messageId: id, body, bornTimestampMs: 1 })) }, { deadlineMs: 5_000 });
    }
    const pullAt = (queueOffset: number): conveyor.IPullRequest => ({ consumerGroup: 'g', topic: 't', queueId: 2, queueOffset, maxCount: 64, maxWaitMs: 0 });
    const idsOf = (answer: conveyor.IPullResponse): string[] => [...decodeRecords(Buffer.from(answer.records ?? []))].map((r) => r.messageId);
    // One after another: the first answer's buffer comes back and serves every later one.
    for (let offset = 0; offset < 256; offset += 64) expect(idsOf(await pulls.request(pullAt(offset), { deadlineMs: 5_000 }))).toEqual(ids.slice(offset, offset + 64));
    await expect.poll(() => b.pull.framePool.stats).toEqual({ created: 1, reused: 3, idle: 1 });
    // Eight at once: no answer is overwritten by another read before it went out (decodeRecords checks every CRC).
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => pulls.request(pullAt(i * 64), { deadlineMs: 5_000 })));
    answers.forEach((answer, i) => expect(idsOf(answer)).toEqual(ids.slice(i * 64, i * 64 + 64)));
    await expect.poll(() => b.pull.framePool.stats.idle).toBe(b.pull.framePool.stats.created);
    // A unary answer (no FrameCall) is not lent from the pool: nothing would give it back.
    const before = b.pull.framePool.stats;
    const unary = await b.pull.pull(conveyor.PullRequest.create(pullAt(0)));
    expect(idsOf(unary)).toEqual(ids.slice(0, 64));
    expect(b.pull.framePool.stats).toEqual(before);
  });

  it('answers a later pull while an earlier one is held on another queue', async () => {
    const b = await serve();
    const client = channel(b.address);
    const sends = mux(client, SEND_STREAM_METHOD);
    const pulls = mux(client, PULL_STREAM_METHOD);
    await sends.request({ topic: 't', queueId: 2, messages: [message('q2')] }, { deadlineMs: 5_000 });
    let heldDone = false;
    const held = pulls.request(pullOf(0, 0, 10_000), { deadlineMs: 15_000 }).finally(() => (heldDone = true));
    await expect.poll(() => b.longPolls.size).toBe(1);
    const quick = await pulls.request(pullOf(2), { deadlineMs: 5_000 });
    expect(quick.recordCount).toBe(1);
    expect(heldDone).toBe(false);
    await sends.request({ topic: 't', queueId: 0, messages: [message('q0')] }, { deadlineMs: 5_000 });
    const woken = await held;
    expect([...decodeRecords(Buffer.from(woken.records))].map((r) => r.messageId)).toEqual(['q0']);
  });

  it('gives a broker error the same code, message and fields as the unary call', async () => {
    const b = await serve();
    const client = channel(b.address);
    const pulls = mux(client, PULL_STREAM_METHOD, { target: b.address });
    const request = pullOf(1, 7);
    const viaStream = await rejection(pulls.request(request, { deadlineMs: 5_000 }));
    const viaUnary = await rejection(callUnary(client, BrokerService.pull, request, 5_000, b.address));
    expect(viaStream.codeName).toBe('OFFSET_OUT_OF_RANGE');
    expect(viaStream.code).toBe(viaUnary.code);
    expect(viaStream.message).toBe(viaUnary.message);
    expect(viaStream.fields).toEqual(viaUnary.fields);
    const sends = mux(client, SEND_STREAM_METHOD, { target: b.address });
    const noTopic = { topic: 'missing', queueId: 0, messages: [message('x')] };
    const sendStream = await rejection(sends.request(noTopic, { deadlineMs: 5_000 }));
    const sendUnary = await rejection(callUnary(client, BrokerService.send, noTopic, 5_000, b.address));
    expect([sendStream.codeName, sendStream.message]).toEqual([sendUnary.codeName, sendUnary.message]);
  });

  it('times a request out with TIMEOUT (unreachable, retryable) when no answer comes by its deadline', async () => {
    // A server that reads frames and never answers: the broker's own handlers always answer in time.
    const server = new grpc.Server();
    server.addService({ pullStream: BrokerService.pullStream }, { pullStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.on('data', () => undefined) });
    const port = await bindServer(server, '127.0.0.1', 0);
    cleanups.push(() => server.forceShutdown());
    const pulls = mux(channel(`127.0.0.1:${port}`), PULL_STREAM_METHOD, { sweepIntervalMs: 20 });
    const err = await rejection(pulls.request(pullOf(0), { deadlineMs: 100 }));
    expect(err.codeName).toBe('TIMEOUT');
    expect(isUnreachable(err.code)).toBe(true);
    expect(pulls.pendingCount).toBe(0);
  });

  it('cancels a held pull through its AbortSignal and releases the hold at the broker', async () => {
    const b = await serve();
    const pulls = mux(channel(b.address), PULL_STREAM_METHOD, { target: b.address });
    const abort = new AbortController();
    const held = pulls.request(pullOf(3, 0, 10_000), { deadlineMs: 15_000, signal: abort.signal });
    await expect.poll(() => b.longPolls.size).toBe(1);
    abort.abort();
    expect(isCancelled(await rejection(held))).toBe(true);
    await expect.poll(() => b.longPolls.size).toBe(0);
    await expect.poll(() => b.gate.inFlight).toBe(0);
  });

  it('fails pending requests with a retryable code when the stream breaks, and reopens on the next request', async () => {
    const b = await serve();
    const client = channel(b.address);
    const pulls = mux(client, PULL_STREAM_METHOD, { target: b.address });
    const held = pulls.request(pullOf(0, 0, 10_000), { deadlineMs: 15_000 });
    await expect.poll(() => b.longPolls.size).toBe(1);
    b.server.forceShutdown();
    const err = await rejection(held);
    expect(isUnreachable(err.code)).toBe(true);
    expect(isRetryableSendError(err.code)).toBe(true);
    b.longPolls.wakeAll();
    await b.restart();
    const sends = mux(client, SEND_STREAM_METHOD);
    await expect.poll(async () => (await sends.request({ topic: 't', queueId: 0, messages: [message('after')] }, { deadlineMs: 2_000 }).then(() => 'ok', (e: unknown) => String(e))), { timeout: 10_000 }).toBe('ok');
    expect((await pulls.request(pullOf(0), { deadlineMs: 5_000 })).recordCount).toBe(1);
  });

  it('on shutdown refuses new frames with SHUTTING_DOWN, finishes the one in flight, then ends the stream', async () => {
    const b = await serve();
    const pulls = mux(channel(b.address), PULL_STREAM_METHOD, { target: b.address });
    const held = pulls.request(pullOf(0, 0, 10_000), { deadlineMs: 15_000 });
    await expect.poll(() => b.longPolls.size).toBe(1);
    b.gate.close();
    const refused = await rejection(pulls.request(pullOf(1), { deadlineMs: 5_000 }));
    expect(refused.codeName).toBe('SHUTTING_DOWN');
    expect(pulls.pendingCount).toBe(1);
    b.longPolls.wakeAll();
    expect((await held).status).toBe(conveyor.PullStatus.PULL_NO_NEW_MESSAGE);
    await expect.poll(() => b.gate.inFlight).toBe(0);
    // The stream has ended; a new one is refused the same way.
    expect((await rejection(pulls.request(pullOf(1), { deadlineMs: 5_000 }))).codeName).toBe('SHUTTING_DOWN');
  });

  it('stops reading a stream with too many frames in flight and goes on as they finish', async () => {
    const b = await serve({ framesInFlightMax: 2 });
    let heldMax = 0;
    const add = b.longPolls.add.bind(b.longPolls);
    b.longPolls.add = (waiter) => {
      const handle = add(waiter);
      heldMax = Math.max(heldMax, b.longPolls.size);
      return handle;
    };
    const client = channel(b.address);
    const sends = mux(client, SEND_STREAM_METHOD);
    await sends.request({ topic: 't', queueId: 3, messages: [message('ready')] }, { deadlineMs: 5_000 });
    const pulls = mux(client, PULL_STREAM_METHOD);
    const order: string[] = [];
    const held = [0, 1, 2].map(async (queueId) => {
      const answer = await pulls.request(pullOf(queueId, 0, 10_000), { deadlineMs: 15_000 });
      order.push(`held ${queueId}`);
      return answer;
    });
    // Behind the held pulls this one is read only once two of them have finished.
    const quick = pulls.request(pullOf(3), { deadlineMs: 15_000 }).then((answer) => {
      order.push('quick');
      return answer;
    });
    await expect.poll(() => b.longPolls.size).toBe(2);
    await sends.request({ topic: 't', queueId: 0, messages: [message('wake-0')] }, { deadlineMs: 5_000 });
    await sends.request({ topic: 't', queueId: 1, messages: [message('wake-1')] }, { deadlineMs: 5_000 });
    expect((await quick).recordCount).toBe(1);
    expect(order.slice(0, 2).sort()).toEqual(['held 0', 'held 1']);
    expect(order[2]).toBe('quick');
    await expect.poll(() => b.longPolls.size).toBe(1);
    b.longPolls.wakeAll();
    await Promise.all(held);
    expect(heldMax).toBe(2);
  });

  it('fails a request at once above the pending bound', async () => {
    const b = await serve();
    const pulls = mux(channel(b.address), PULL_STREAM_METHOD, { pendingMax: 2 });
    const held = [0, 1].map((queueId) => pulls.request(pullOf(queueId, 0, 10_000), { deadlineMs: 15_000 }));
    const err = await rejection(pulls.request(pullOf(2), { deadlineMs: 5_000 }));
    expect(err.codeName).toBe('SERVICE_UNAVAILABLE');
    expect(err.fields.pendingMax).toBe(2);
    await expect.poll(() => b.longPolls.size).toBe(2);
    b.longPolls.wakeAll();
    await Promise.all(held);
  });

  it('answers a malformed frame with an error frame and keeps serving the stream', async () => {
    const b = await serve();
    const client = channel(b.address);
    const stream = client.makeBidiStreamRequest<Buffer, conveyor.SendStreamResponse>(BrokerService.sendStream.path, (frame) => frame, (bytes) => conveyor.SendStreamResponse.decode(bytes));
    cleanups.push(() => stream.cancel());
    stream.on('error', () => undefined);
    const answers: conveyor.SendStreamResponse[] = [];
    stream.on('data', (answer: conveyor.SendStreamResponse) => answers.push(answer));
    stream.write(Buffer.from([0x08, 0x07, 0x1a, 0x7f, 0x01])); // id 7, then a request field longer than the frame
    stream.write(encodeRequestFrame(8, 5_000, Buffer.alloc(0))); // an empty SendRequest: no topic
    stream.write(Buffer.from(conveyor.SendStreamRequest.encode({ id: 9, timeoutMs: 5_000 }).finish())); // no request at all
    const good = conveyor.SendRequest.encode({ topic: 't', queueId: 0, messages: [message('ok')] }).finish();
    stream.write(encodeRequestFrame(10, 5_000, good));
    await expect.poll(() => answers.length).toBe(4);
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(errorCodeName(byId.get(7)?.error?.code ?? ErrorCode.OK)).toBe('INVALID_ARGUMENT');
    expect(byId.get(7)?.error?.message).toMatch(/malformed send stream frame/);
    expect(errorCodeName(byId.get(8)?.error?.code ?? ErrorCode.OK)).toBe('INVALID_NAME');
    expect(byId.get(9)?.error?.message).toMatch(/carries no request/);
    expect(byId.get(10)?.response?.results?.[0]?.messageId).toBe('ok');
  });

  it('reports a broker without the stream method and sends through the fallback', async () => {
    const server = new grpc.Server();
    server.addService({ send: BrokerService.send }, { send: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<conveyor.ISendResponse>) => done(null, { results: [{ messageId: 'old' }] }) });
    const port = await bindServer(server, '127.0.0.1', 0);
    cleanups.push(() => server.forceShutdown());
    const client = channel(`127.0.0.1:${port}`);
    const plain = mux(client, SEND_STREAM_METHOD);
    expect(isStreamUnsupported(await rejection(plain.request({ topic: 't' }, { deadlineMs: 5_000 })))).toBe(true);
    expect(plain.unsupported).toBe(true);
    const fallback = (request: conveyor.ISendRequest, options: { deadlineMs: number }): Promise<conveyor.SendResponse> => callUnary(client, BrokerService.send, request, options.deadlineMs);
    const withFallback = mux(client, SEND_STREAM_METHOD, { fallback });
    const first = await withFallback.request({ topic: 't' }, { deadlineMs: 5_000 });
    expect(first.results[0]?.messageId).toBe('old');
    expect(withFallback.unsupported).toBe(true);
    expect((await withFallback.request({ topic: 't' }, { deadlineMs: 5_000 })).results[0]?.messageId).toBe('old');
  });
});

describe('BrokerConnections transport', () => {
  it('carries sends and pulls over SendStream / PullStream, every other method as a unary call', async () => {
    const seen: string[] = [];
    const served = await serve({ onHandler: (method) => seen.push(method) });
    const connections = new BrokerConnections(60_000);
    cleanups.push(() => connections.close());
    const sent = await connections.call(served.address, BrokerService.send, { topic: 't', queueId: 1, producerGroup: 'p', messages: [message('m-stream-1')] }, { deadlineMs: 5_000 });
    expect(sent.results[0]?.status ?? sent.stored?.status).toBe(conveyor.ErrorCode.OK);
    const pulled = await connections.call(served.address, BrokerService.pull, pullOf(1), { deadlineMs: 5_000 });
    expect(pulled.recordCount).toBeGreaterThanOrEqual(1);
    expect([...decodeRecords(Buffer.from(pulled.records))][0]?.messageId).toBe('m-stream-1');
    await connections.call(served.address, BrokerService.getBrokerStatus, {}, { deadlineMs: 5_000 });
    expect(seen).toEqual(['sendStream', 'pullStream', 'getBrokerStatus']);
  });
});
