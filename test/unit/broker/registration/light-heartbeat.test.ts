// Registration against in-process nameservers that record the size and kind of every
// RegisterBroker they receive: heartbeats at rest carry the data version alone, the full topic
// table goes after a change and at once when a nameserver lost it (restart, expiry).
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Registration } from '../../../../broker/registration/registration.js';
import { CHANNEL_OPTIONS, SERVER_OPTIONS, bindServer, callUnary, shutdownServer } from '../../../../common/grpc.js';
import { silentLogger } from '../../../../common/logging.js';
import { RouteTable, createNameServerHandlers } from '../../../../nameserver/index.js';
import { NameServerService, type NameServerHandlers, type conveyor } from '../../../../proto/index.js';

const EXPIRY_MS = 30_000;
/** Topics at the broker's bound (broker/topics/topics.ts TOPICS_MAX): the size that matters. */
const TOPICS_AT_BOUND = 10_000;
/** A heartbeat at rest must stay this small whatever the topic count (issue 17: "a few hundred bytes"). */
const LIGHT_HEARTBEAT_BYTES_MAX = 256;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Received {
  bytes: number;
  full: boolean;
}

interface RecordingNameserver {
  address: string;
  /** Every RegisterBroker received, in order, with its encoded size. */
  received: Received[];
  /** The nameserver's clock, for expiry. */
  clock: { now: number };
  /** A nameserver restart: every registration forgotten (same address, new empty table). */
  restart(): void;
  topicList(): Promise<string[]>;
}

async function recordingNameserver(): Promise<RecordingNameserver> {
  const clock = { now: 1_000_000 };
  const fresh = (): NameServerHandlers => createNameServerHandlers({ table: new RouteTable({ brokerExpiryMs: EXPIRY_MS, now: () => clock.now }), log: silentLogger() });
  let handlers = fresh();
  const received: Received[] = [];
  const definition = {
    ...NameServerService,
    registerBroker: {
      ...NameServerService.registerBroker,
      requestDeserialize: (bytes: Buffer): conveyor.RegisterBrokerRequest => {
        const request = NameServerService.registerBroker.requestDeserialize(bytes);
        received.push({ bytes: bytes.length, full: request.fullTopicTable });
        return request;
      },
    },
  };
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(definition, {
    registerBroker: (call, callback) => handlers.registerBroker(call, callback),
    getTopicList: (call, callback) => handlers.getTopicList(call, callback),
  } satisfies Partial<NameServerHandlers>);
  const port = await bindServer(server, '127.0.0.1', 0);
  const address = `127.0.0.1:${port}`;
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  cleanups.push(() => shutdownServer(server, 0), () => client.close());
  return {
    address,
    received,
    clock,
    restart: () => {
      handlers = fresh();
    },
    topicList: async () => (await callUnary(client, NameServerService.getTopicList, {}, 2_000)).topics,
  };
}

function topicTable(count: number): conveyor.ITopicConfig[] {
  return Array.from({ length: count }, (_, i) => ({ topicName: `t${String(i).padStart(5, '0')}`, readQueueCount: 8, writeQueueCount: 8, perm: 6 }));
}

/** A master as a real deployment describes itself (realistic address lengths), counting reads of its topic table. */
function registration(nameservers: string[], topics: () => conveyor.ITopicConfig[]): { r: Registration; tableReads: () => number } {
  let reads = 0;
  const r = new Registration({
    nameservers,
    intervalMs: 60_000,
    clock: Date.now,
    log: silentLogger(),
    describe: () => ({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 0, brokerAddress: '10.20.30.40:10911', haAddress: '10.20.30.40:10911', httpAddress: '10.20.30.40:10912' }),
    topics: () => {
      reads += 1;
      return topics();
    },
  });
  cleanups.push(() => r.stop({ unregister: false }));
  return { r, tableReads: () => reads };
}

const kinds = (received: Received[]): string[] => received.map((x) => (x.full ? 'full' : 'light'));

describe('registration with light heartbeats', () => {
  it('sends the full table once per nameserver, light heartbeats at rest, and the full table again after a change', async () => {
    const a = await recordingNameserver();
    const b = await recordingNameserver();
    let topics = topicTable(3);
    const { r, tableReads } = registration([a.address, b.address], () => topics);
    await r.start();
    await r.registerNow();
    await r.registerNow();
    expect(kinds(a.received)).toEqual(['full', 'light', 'light']);
    expect(kinds(b.received)).toEqual(['full', 'light', 'light']);
    topics = topicTable(4);
    await r.topicsChanged();
    await r.registerNow();
    expect(kinds(a.received)).toEqual(['full', 'light', 'light', 'full', 'light']);
    expect(kinds(b.received)).toEqual(['full', 'light', 'light', 'full', 'light']);
    expect(await a.topicList()).toHaveLength(4);
    // One read of the table per version, shared by both nameservers.
    expect(tableReads()).toBe(2);
  });

  it('sends the full table in the same round when a restarted nameserver asks for it, and only to that one', async () => {
    const a = await recordingNameserver();
    const b = await recordingNameserver();
    const { r } = registration([a.address, b.address], () => topicTable(5));
    await r.start();
    a.restart();
    expect(await a.topicList()).toEqual([]);
    await r.registerNow();
    expect(kinds(a.received)).toEqual(['full', 'light', 'full']);
    expect(kinds(b.received)).toEqual(['full', 'light']);
    expect(await a.topicList()).toHaveLength(5);
    await r.registerNow();
    expect(kinds(a.received).slice(3)).toEqual(['light']);
  });

  it('sends the full table in the same round when the nameserver had expired the broker', async () => {
    const a = await recordingNameserver();
    const { r } = registration([a.address], () => topicTable(2));
    await r.start();
    a.clock.now += EXPIRY_MS + 1;
    expect(await a.topicList()).toEqual([]);
    await r.registerNow();
    expect(kinds(a.received)).toEqual(['full', 'light', 'full']);
    expect(await a.topicList()).toEqual(['t00000', 't00001']);
  });

  it(`keeps a heartbeat at rest under ${LIGHT_HEARTBEAT_BYTES_MAX} bytes with ${TOPICS_AT_BOUND} topics`, async () => {
    const a = await recordingNameserver();
    const { r } = registration([a.address], () => topicTable(TOPICS_AT_BOUND));
    await r.start();
    await r.registerNow();
    const [full, light] = a.received;
    expect(full?.full).toBe(true);
    expect(light?.full).toBe(false);
    // 6-character names, 8 queues: 16 bytes per topic in the full table (issue 17's figure).
    expect(full?.bytes).toBeGreaterThan(TOPICS_AT_BOUND * 16);
    expect(light?.bytes).toBeLessThanOrEqual(LIGHT_HEARTBEAT_BYTES_MAX);
    expect(await a.topicList()).toHaveLength(TOPICS_AT_BOUND);
  });
});
