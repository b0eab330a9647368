// Dead links on either side: a master ends the stream of a slave that stopped reporting; a slave
// reopens a stream on which the master went silent. Both peers here speak the wire directly.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, vi } from 'vitest';
import { ReplicationService, type conveyor } from '../../../../proto/index.js';
import { decodeRecords, RECORD_FORMAT_VERSION } from '../../../../common/record.js';
import { CHANNEL_OPTIONS, bindServer, fromServiceError, SERVER_OPTIONS } from '../../../../common/grpc.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { slaveHandshake } from '../../../../broker/replication/handshake.js';
import { appendMessages, BROKER, capturingLogger, CLUSTER, newDataDir, openStore, SEGMENT_BYTES, startMaster, startSlave } from './replication-fixture.js';

describe('replication liveness', () => {
  it('streams records from the reported offset and ends the stream of a slave that stops reporting', async () => {
    const { log } = capturingLogger();
    const masterStore = await openStore(newDataDir());
    await appendMessages(masterStore, 'Wire', 0, 3);
    const { address, master } = await startMaster(masterStore, log, 0, { slaveSilenceMsMax: 300 });
    const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const call = client.makeBidiStreamRequest<conveyor.ISlaveReport, conveyor.ReplicationData>(
      ReplicationService.replicate.path,
      ReplicationService.replicate.requestSerialize,
      ReplicationService.replicate.responseDeserialize,
    );
    const received: conveyor.ReplicationData[] = [];
    const ended = new Promise<ConveyorError>((resolve) => call.on('error', (err) => resolve(fromServiceError(err))));
    call.on('data', (message: conveyor.ReplicationData) => received.push(message));
    call.write({ handshake: slaveHandshake({ clusterName: CLUSTER, brokerName: BROKER, recordFormatVersion: RECORD_FORMAT_VERSION, segmentBytes: SEGMENT_BYTES }, 7), durablePhysicalOffset: 0 });

    await vi.waitFor(() => expect(received.length).toBeGreaterThan(0));
    const first = received[0]!;
    expect(first.physicalOffset).toBe(0);
    expect(first.masterMaxPhysicalOffset).toBe(masterStore.maxPhysicalOffset);
    expect([...decodeRecords(Buffer.from(first.data))].map((r) => r.topic)).toEqual(['Wire', 'Wire', 'Wire']);
    await vi.waitFor(() => expect(master.lag().slaves.map((s) => s.brokerId)).toEqual([7]));

    const error = await ended;
    expect(error.code).toBe(ErrorCode.TIMEOUT);
    expect(error.message).toContain('slave 7 sent no report');
    expect(master.connectedSlaveCount).toBe(0);
    client.close();
  });

  it('reopens the stream when the master goes silent', async () => {
    const { log } = capturingLogger();
    let streams = 0;
    const server = new grpc.Server(SERVER_OPTIONS);
    server.addService(ReplicationService, {
      replicate: () => {
        streams += 1; // accepts and never answers: a frozen master
      },
      getMetadata: (_call: unknown, callback: grpc.sendUnaryData<conveyor.IMetadataSnapshot>) => callback(null, {}),
    });
    const port = await bindServer(server, '127.0.0.1', 0);
    const slaveStore = await openStore(newDataDir());
    const slave = startSlave(slaveStore, `127.0.0.1:${port}`, log, { masterSilenceMsMax: 300 });
    await vi.waitFor(() => expect(slave.status().lastError?.code).toBe('TIMEOUT'), { timeout: 5_000 });
    await vi.waitFor(() => expect(streams).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    expect(slave.connected).toBe(false);
    await slave.close();
    server.forceShutdown();
  });
});
