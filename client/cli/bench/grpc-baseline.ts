// The floor under every Conveyor figure on a given machine: bare grpc-js unary calls (1 KiB
// request, 16-byte answer, no protobuf, no handler work) between a client and a server in one
// process, over loopback. The suite reports it beside the cases, so a reader can tell what the
// machine (and anything else running on it) allows before Conveyor's own costs.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';

/** Calls before measuring (connection set-up, JIT warm-up). */
const WARMUP_CALLS = 2_000;
/** Calls outstanding at once: enough to keep both sides busy. */
const CONCURRENCY = 64;
const REQUEST_BYTES = 1_024;

export interface GrpcBaseline {
  calls: number;
  callsPerS: number;
  /** CPU (user + system) of client and server together per call, in microseconds. */
  cpuMicrosPerCall: number;
}

const identity = (b: Buffer): Buffer => b;
const ECHO = {
  echo: { path: '/conveyor.bench.Baseline/Echo', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
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
  } finally {
    client.close();
    server.forceShutdown();
  }
}
