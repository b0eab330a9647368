// The floor under every Conveyor figure on a given machine: bare grpc-js calls (1 KiB request,
// 16-byte answer, no protobuf, no handler work) between a client and a server in one process,
// over loopback, two ways: one unary call per request (measureGrpcBaseline), and one message each
// way on an already-open bidi stream (measureGrpcStreamBaseline: the transport of SendStream /
// PullStream). The suite reports them beside the cases, so a reader can tell what the machine
// (and anything else running on it) allows before Conveyor's own costs.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';

/** Calls before measuring (connection set-up, JIT warm-up). */
const WARMUP_CALLS = 2_000;
/** Calls outstanding at once: enough to keep both sides busy. */
const CONCURRENCY = 64;
const REQUEST_BYTES = 1_024;

interface GrpcBaseline {
  calls: number;
  callsPerS: number;
  /** CPU (user + system) of client and server together per call, in microseconds. */
  cpuMicrosPerCall: number;
}

const identity = (b: Buffer): Buffer => b;
const ECHO = {
  echo: { path: '/conveyor.bench.Baseline/Echo', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
} as const;
const CHAT = {
  chat: { path: '/conveyor.bench.Baseline/Chat', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
} as const;

type EchoClient = grpc.Client & { echo(request: Buffer, callback: (err: grpc.ServiceError | null) => void): void };

export async function measureGrpcBaseline(calls: number): Promise<GrpcBaseline> {
  const server = new grpc.Server();
  const answer = Buffer.alloc(16);
  server.addService(ECHO as unknown as grpc.ServiceDefinition, { echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, answer) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const Client = grpc.makeGenericClientConstructor(ECHO as unknown as grpc.ServiceDefinition, 'Baseline');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  const request = Buffer.alloc(REQUEST_BYTES);
  const call = (): Promise<void> => new Promise((resolve, reject) => client.echo(request, (err) => (err ? reject(err) : resolve())));
  try {
    return await measureCalls(calls, call);
  } finally {
    client.close();
    server.forceShutdown();
  }
}

/** Runs `call` WARMUP_CALLS times, then `calls` times with CONCURRENCY outstanding; CPU is this process's (client and server). */
async function measureCalls(calls: number, call: () => Promise<void>): Promise<GrpcBaseline> {
  for (let i = 0; i < WARMUP_CALLS; i++) await call();
  let issued = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < calls) {
        issued++;
        await call();
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  return { calls, callsPerS: Math.round((calls / elapsedMs) * 1000), cpuMicrosPerCall: Math.round(((cpu.user + cpu.system) / calls) * 10) / 10 };
}

/**
 * The same request and answer as measureGrpcBaseline, as one message each way on one open bidi
 * stream (answers matched in order: the server answers each message at once). `calls` round trips.
 */
export async function measureGrpcStreamBaseline(calls: number): Promise<GrpcBaseline> {
  const server = new grpc.Server();
  const answer = Buffer.alloc(16);
  server.addService(CHAT as unknown as grpc.ServiceDefinition, {
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(answer));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const stream = client.makeBidiStreamRequest<Buffer, Buffer>(CHAT.chat.path, identity, identity);
  const waiting: Array<() => void> = [];
  let head = 0;
  stream.on('data', () => {
    const wake = waiting[head];
    waiting[head++] = noop;
    if (head > 4_096) {
      waiting.splice(0, head);
      head = 0;
    }
    wake?.();
  });
  stream.on('error', () => undefined);
  const request = Buffer.alloc(REQUEST_BYTES);
  const call = (): Promise<void> => new Promise((resolve) => {
    waiting.push(resolve);
    stream.write(request);
  });
  try {
    return await measureCalls(calls, call);
  } finally {
    stream.end();
    client.close();
    server.forceShutdown();
  }
}

const noop = (): void => undefined;
