import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode, errorCodeName } from '../../../common/errors.js';
import { bindServer, CHANNEL_OPTIONS, callUnary, grpcStatusFor, SERVER_OPTIONS, shutdownServer, unaryHandler } from '../../../common/grpc.js';
import { conveyor, NameServerService } from '../../../proto/index.js';
import { rejectionOf } from '../../helpers/errors.js';

// A real gRPC server on loopback whose GetRoute answers according to the topic asked for.
describe('errors over gRPC', () => {
  const server = new grpc.Server(SERVER_OPTIONS);
  let client: grpc.Client;
  let address: string;

  beforeAll(async () => {
    const notImplemented = unaryHandler(() => {
      throw new ConveyorError(ErrorCode.INTERNAL, 'not in this test');
    });
    server.addService(NameServerService, {
      registerBroker: notImplemented,
      unregisterBroker: notImplemented,
      getClusterInfo: notImplemented,
      getTopicList: notImplemented,
      getRoute: unaryHandler((req: conveyor.GetRouteRequest) => {
        if (req.topic === 'missing') throw new ConveyorError(ErrorCode.TOPIC_NOT_FOUND, `topic '${req.topic}' not found`, { topic: req.topic });
        if (req.topic === 'range') throw new ConveyorError(ErrorCode.OFFSET_OUT_OF_RANGE, 'offset 9 outside [0, 5)', { minOffset: 0, maxOffset: 5 });
        if (req.topic === 'bug') throw new TypeError('cannot read properties of undefined');
        return { topic: req.topic, queues: [{ brokerName: 'broker-a', readQueueCount: 4, writeQueueCount: 4, perm: 6 }] };
      }),
    });
    const port = await bindServer(server, '127.0.0.1', 0);
    address = `127.0.0.1:${port}`;
    client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  });

  afterAll(async () => {
    client.close();
    await shutdownServer(server, 1000);
  });

  it('delivers an answer when the handler resolves', async () => {
    const route = await callUnary(client, NameServerService.getRoute, { topic: 'demo' }, 2000);
    expect(route.queues[0]?.brokerName).toBe('broker-a');
  });

  it('carries the code, message and fields of a ConveyorError to the caller', async () => {
    const err = await rejectionOf(callUnary(client, NameServerService.getRoute, { topic: 'missing' }, 2000));
    expect(err.code).toBe(ErrorCode.TOPIC_NOT_FOUND);
    expect(err.message).toBe("topic 'missing' not found");
    expect(err.fields.topic).toBe('missing');
    const range = await rejectionOf(callUnary(client, NameServerService.getRoute, { topic: 'range' }, 2000));
    expect(range.code).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(range.fields).toMatchObject({ minOffset: '0', maxOffset: '5' });
  });

  it('turns an unexpected throw into INTERNAL, never UNKNOWN', async () => {
    const err = await rejectionOf(callUnary(client, NameServerService.getRoute, { topic: 'bug' }, 2000));
    expect(err.code).toBe(ErrorCode.INTERNAL);
    expect(err.message).toContain('cannot read properties of undefined');
  });

  it('maps a dead server to SERVICE_UNAVAILABLE', async () => {
    const dead = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const err = await rejectionOf(callUnary(dead, NameServerService.getRoute, { topic: 'demo' }, 2000, '127.0.0.1:1'));
    dead.close();
    expect(err.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect(err.message).toContain('127.0.0.1:1');
  });

  it('maps every error code to a gRPC status other than UNKNOWN', () => {
    const codes = Object.values(conveyor.ErrorCode).filter((v): v is number => typeof v === 'number');
    expect(codes.length).toBeGreaterThan(20);
    for (const code of codes) {
      expect(grpcStatusFor(code), errorCodeName(code)).not.toBe(grpc.status.UNKNOWN);
    }
  });
});
