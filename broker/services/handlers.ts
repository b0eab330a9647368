// The BrokerService implementation: every RPC goes through the request runner (request-runner.ts:
// the shutdown gate, in-flight count, latency and result code) and maps errors once (common/grpc.ts
// unaryHandler). SendStream and PullStream run each frame through the same runner (stream-handlers.ts).
import type * as grpc from '@grpc/grpc-js';
import { unaryHandler } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';
import type { BrokerHandlers } from '../../proto/index.js';
import type { BrokerMetrics } from '../metrics.js';
import type { BrokerServices } from './broker-services.js';
import { createRequestRunner, type RequestGate } from './request-runner.js';
import { createStreamHandlers, type StreamHandlerOptions } from './stream-handlers.js';

export function createBrokerHandlers(services: BrokerServices, gate: RequestGate, metrics: BrokerMetrics, log: Logger, streamOptions: StreamHandlerOptions = {}): BrokerHandlers {
  const run = createRequestRunner(gate, metrics, log);
  function wrap<Req, Res>(method: string, fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
    return unaryHandler<Req, Res>((request, call) => run(method, () => fn(request, call)));
  }
  const { send, pull, offsets, consumers, admin } = services;
  return {
    send: wrap('send', (request, call) => send.send(request, call)),
    pull: wrap('pull', (request, call) => pull.pull(request, call)),
    ...createStreamHandlers(services, gate, run, log, streamOptions),
    commitOffset: wrap('commitOffset', (request) => offsets.commitOffset(request)),
    queryOffset: wrap('queryOffset', (request) => offsets.queryOffset(request)),
    searchOffset: wrap('searchOffset', (request) => offsets.searchOffset(request)),
    getQueueRange: wrap('getQueueRange', (request) => offsets.getQueueRange(request)),
    consumerHeartbeat: wrap('consumerHeartbeat', (request) => consumers.consumerHeartbeat(request)),
    getConsumerList: wrap('getConsumerList', (request) => consumers.getConsumerList(request)),
    unregisterConsumer: wrap('unregisterConsumer', (request) => consumers.unregisterConsumer(request)),
    upsertTopic: wrap('upsertTopic', (request) => admin.upsertTopic(request)),
    deleteTopic: wrap('deleteTopic', (request) => admin.deleteTopic(request)),
    getTopicStats: wrap('getTopicStats', (request) => admin.getTopicStats(request)),
    upsertGroup: wrap('upsertGroup', (request) => admin.upsertGroup(request)),
    listGroups: wrap('listGroups', () => admin.listGroups()),
    getGroupOffsets: wrap('getGroupOffsets', (request) => admin.getGroupOffsets(request)),
    queryMessage: wrap('queryMessage', (request) => admin.queryMessage(request)),
    getBrokerStatus: wrap('getBrokerStatus', () => admin.getBrokerStatus()),
  };
}
