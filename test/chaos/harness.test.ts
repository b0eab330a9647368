// The chaos harness's own parts, without a cluster: the seeded schedule, the ledger's verdicts,
// the recovery measures, the /proc socket lookup and the proxy's cut. Fast; runs with the short
// chaos run in `npm test` (project chaos-short).
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, orderViolations, type DeliveryRecord, type SendRecord } from './ledger.js';
import { consumerResumeMs, faultRecoveries, median, producerResumeMs } from './recovery.js';
import { FAULT_KINDS, HEAL_AFTER_MS, planFaults, QUIET_TAIL_MS, WARMUP_MS } from './schedule.js';
import { findSocketInode, procNetAddress } from './socket-owner.js';
import { TcpProxy } from './tcp-proxy.js';

const topology = { groups: ['broker-a', 'broker-b'], nameservers: 2 };

function send(partial: Partial<SendRecord> & Pick<SendRecord, 'id' | 'startedAtMs' | 'endedAtMs'>): SendRecord {
  return { producer: 0, seq: 0, outcome: 'OK', brokerName: 'broker-a', queueId: 0, queueOffset: 0, ...partial };
}

function delivery(partial: Partial<DeliveryRecord> & Pick<DeliveryRecord, 'id' | 'queueOffset'>): DeliveryRecord {
  return { consumer: 0, brokerName: 'broker-a', queueId: 0, atMs: 0, ...partial };
}

describe('fault schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    const input = { seed: 'replay-me', durationMs: 300_000, everyMs: 10_000, topology };
    expect(planFaults(input)).toEqual(planFaults(input));
    expect(planFaults({ ...input, seed: 'another' })).not.toEqual(planFaults(input));
  });

  it('meets every kind in each bag, in the weighted proportions', () => {
    const faults = planFaults({ seed: 7, durationMs: 300_000, everyMs: 10_000, topology });
    expect(faults.length).toBeGreaterThanOrEqual(25);
    const firstBag = faults.slice(0, 10).map((f) => f.kind);
    for (const kind of FAULT_KINDS) expect(firstBag).toContain(kind);
    expect(firstBag.filter((k) => k === 'kill-master')).toHaveLength(3);
  });

  it('starts after the warm-up, heals before the quiet tail and never overlaps two faults', () => {
    for (const seed of [1, 2, 3, 'x']) {
      const faults = planFaults({ seed, durationMs: 120_000, everyMs: 8_000, topology });
      expect(faults[0]?.atMs).toBeGreaterThanOrEqual(WARMUP_MS);
      for (const [i, f] of faults.entries()) {
        expect(f.atMs + f.healAfterMs).toBeLessThanOrEqual(120_000 - QUIET_TAIL_MS);
        expect(f.healAfterMs).toBeGreaterThanOrEqual(HEAL_AFTER_MS[f.kind][0]);
        const next = faults[i + 1];
        if (next) expect(next.atMs).toBeGreaterThan(f.atMs + f.healAfterMs);
      }
    }
  });

  it('draws only the kinds given a weight, and targets processes of the topology', () => {
    const faults = planFaults({ seed: 3, durationMs: 200_000, everyMs: 10_000, topology, weights: { 'kill-master': 1, 'kill-slave': 0, 'kill-nameserver': 0, 'pause-broker': 0, 'cut-replication': 0 } });
    expect(new Set(faults.map((f) => f.kind))).toEqual(new Set(['kill-master']));
    for (const f of faults) expect(['broker-a-0', 'broker-b-0']).toContain(f.target);
  });
});

describe('ledger verdict', () => {
  it('counts an OK message never delivered as lost, and a master-only one apart', () => {
    const ledger = new Ledger();
    ledger.recordSend(send({ id: 'a', startedAtMs: 0, endedAtMs: 5 }));
    ledger.recordSend(send({ id: 'b', startedAtMs: 0, endedAtMs: 5 }));
    ledger.recordSend(send({ id: 'c', startedAtMs: 0, endedAtMs: 5, outcome: 'SLAVE_TIMEOUT' }));
    ledger.recordSend(send({ id: 'd', startedAtMs: 0, endedAtMs: 5, outcome: 'FAILED', error: 'TIMEOUT' }));
    ledger.recordDelivery(delivery({ id: 'a', queueOffset: 0 }));
    ledger.recordDelivery(delivery({ id: 'd', queueOffset: 1 }));
    const verdict = ledger.verdict();
    expect(verdict).toMatchObject({ acknowledged: 2, acknowledgedMasterOnly: 1, failed: 1, failedByError: { TIMEOUT: 1 }, failedButDelivered: 1, lost: 1, lostIds: ['b'], lostMasterOnly: 1, consumed: 2 });
    expect(ledger.undeliveredStoredCount()).toBe(2);
  });

  it('counts duplicates, and ids stored at two places apart from re-deliveries', () => {
    const ledger = new Ledger();
    ledger.recordSend(send({ id: 'a', startedAtMs: 0, endedAtMs: 5 }));
    ledger.recordSend(send({ id: 'b', startedAtMs: 0, endedAtMs: 5 }));
    ledger.recordDelivery(delivery({ id: 'a', queueOffset: 0 }));
    ledger.recordDelivery(delivery({ id: 'a', queueOffset: 0, consumer: 1 }));
    ledger.recordDelivery(delivery({ id: 'b', queueOffset: 1 }));
    ledger.recordDelivery(delivery({ id: 'b', queueOffset: 0, brokerName: 'broker-b' }));
    ledger.recordDelivery(delivery({ id: 'ghost', queueOffset: 2 }));
    const verdict = ledger.verdict();
    expect(verdict).toMatchObject({ duplicatedIds: 2, duplicateDeliveries: 2, storedTwice: 1, unknownDeliveries: 1 });
  });

  it('calls a late, never-seen offset an order violation, and a re-delivery from a rewound offset not', () => {
    const rewound = [0, 1, 2, 3, 1, 2, 3, 4].map((queueOffset) => delivery({ id: `m${queueOffset}`, queueOffset }));
    expect(orderViolations(rewound).count).toBe(0);
    const skippedThenLate = [0, 2, 3, 1].map((queueOffset) => delivery({ id: `m${queueOffset}`, queueOffset }));
    expect(orderViolations(skippedThenLate).count).toBe(1);
    // Per consumer and per queue: two consumers reading one queue are not compared.
    const twoConsumers = [delivery({ id: 'x', queueOffset: 5, consumer: 0 }), delivery({ id: 'y', queueOffset: 3, consumer: 1 })];
    expect(orderViolations(twoConsumers).count).toBe(0);
  });

  it('finds stored queue offsets no consumer was given', () => {
    const ledger = new Ledger();
    for (const queueOffset of [0, 1, 3]) ledger.recordDelivery(delivery({ id: `m${queueOffset}`, queueOffset }));
    const verdict = ledger.verdict([{ brokerName: 'broker-a', queueId: 0, minOffset: 0, maxOffset: 5 }]);
    expect(verdict.undeliveredOffsets).toBe(2);
    expect(verdict.undeliveredSamples).toEqual(['broker-a#0@2', 'broker-a#0@4']);
  });
});

describe('recovery measures', () => {
  it('has producers resumed at the first send after which every send for two seconds was normal', () => {
    const sends = [
      send({ id: '1', startedAtMs: 1_000, endedAtMs: 4_000 }), // timed out on the dead broker, retried
      send({ id: '2', startedAtMs: 1_500, endedAtMs: 1_520 }),
      send({ id: '3', startedAtMs: 2_000, endedAtMs: 2_010, outcome: 'FAILED' }),
      send({ id: '4', startedAtMs: 2_500, endedAtMs: 2_530 }),
      send({ id: '5', startedAtMs: 3_500, endedAtMs: 3_510 }),
      send({ id: '6', startedAtMs: 4_600, endedAtMs: 4_610 }),
    ];
    expect(producerResumeMs(sends, 1_000, 10_000)).toBe(1_530);
    // Not enough time before the next fault to prove it: not resumed.
    expect(producerResumeMs(sends, 1_000, 4_000)).toBeNull();
  });

  it('has consumers resumed once the backlog acknowledged before the fault is delivered', () => {
    const delivered = new Map([['a', 900], ['b', 1_800], ['c', 2_600]]);
    const sends = [
      send({ id: 'a', startedAtMs: 0, endedAtMs: 800 }), // delivered before the fault: not backlog
      send({ id: 'b', startedAtMs: 0, endedAtMs: 950 }),
      send({ id: 'c', startedAtMs: 0, endedAtMs: 990, brokerName: 'broker-b' }),
      send({ id: 'd', startedAtMs: 0, endedAtMs: 1_100 }), // acknowledged after the fault
    ];
    const first = (id: string): number | undefined => delivered.get(id);
    expect(consumerResumeMs(sends, first, 1_000)).toEqual({ resumeMs: 1_600, backlog: 2 });
    expect(consumerResumeMs(sends, first, 1_000, 'broker-a')).toEqual({ resumeMs: 800, backlog: 1 });
    expect(consumerResumeMs(sends, () => undefined, 1_000).resumeMs).toBeNull();
  });

  it('reports retries and the last one within each fault window', () => {
    const [recovery] = faultRecoveries({
      faults: [{ index: 0, kind: 'kill-master', target: 'broker-a-0', brokerName: 'broker-a', injectedAtMs: 1_000, healedAtMs: 3_000 }],
      sends: [],
      producers: 0,
      firstDeliveredAtMs: () => undefined,
      retrySamples: [{ atMs: 900, total: 4 }, { atMs: 1_100, total: 6 }, { atMs: 1_700, total: 9 }, { atMs: 2_000, total: 9 }],
      endMs: 5_000,
    });
    expect(recovery).toMatchObject({ retries: 5, lastRetryMs: 700, producerResumeMs: 0, consumerResumeMs: 0 });
  });

  it('takes the median of the values present', () => {
    expect(median([3, null, 1, 2])).toBe(2);
    expect(median([4, 1])).toBe(2.5);
    expect(median([null])).toBeUndefined();
  });
});

describe('socket ownership from /proc', () => {
  it('writes addresses as /proc/net/tcp does', () => {
    expect(procNetAddress('127.0.0.1', 5000)).toBe('0100007F:1388');
    expect(procNetAddress('127.0.0.2', 80)).toBe('0200007F:0050');
  });

  it('finds the inode of a connection in /proc/net/tcp text', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1388 0200007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    expect(findSocketInode(table, '0100007F:1388', '0200007F:0050')).toBe(4242);
    expect(findSocketInode(table, '0100007F:1389', '0200007F:0050')).toBeUndefined();
  });
});

describe('broker proxy', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function echoServer(): Promise<{ server: Server; port: number }> {
    const server = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return { server, port: address.port };
  }

  /** A client through the proxy that keeps everything it receives. */
  function client(port: number): Promise<{ socket: Socket; received: () => string }> {
    return new Promise((resolve, reject) => {
      let text = '';
      const socket = connect(port, '127.0.0.2', () => resolve({ socket, received: () => text }));
      socket.on('data', (data: Buffer) => (text += data.toString()));
      socket.once('error', reject);
      cleanup.push(() => void socket.destroy());
    });
  }

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  it('forwards, freezes the connections of one process while cut, and lets them flow again when healed', async () => {
    const { port } = await echoServer();
    const proxy = new TcpProxy('echo', { host: '127.0.0.2', port }, { host: '127.0.0.1', port });
    await proxy.start();
    cleanup.push(() => proxy.close());
    const first = await client(port);
    first.socket.write('one;');
    await expect.poll(() => first.received()).toBe('one;');
    expect(await proxy.connectionsOf(process.pid)).toBe(1);
    expect(await proxy.connectionsOf(1)).toBe(0);

    expect(await proxy.cut(process.pid)).toBe(1);
    first.socket.write('two;');
    // A new connection from the cut process is accepted and never answered.
    const late = await client(port);
    late.socket.write('three;');
    await sleep(300);
    expect(first.received()).toBe('one;');
    expect(late.received()).toBe('');

    proxy.heal();
    await expect.poll(() => first.received()).toBe('one;two;');
    await expect.poll(() => late.received()).toBe('three;');
    late.socket.write('four;');
    await expect.poll(() => late.received()).toBe('three;four;');
  });
});
