// The chaos workload: producers sending continuously at a bounded rate (unique message ids, a
// per-producer sequence in the properties), and a consumer group of push consumers, every send
// and delivery written to the ledger. It knows nothing of faults; the runner measures around it.
import { randomBytes } from 'node:crypto';
import { ConveyorError, errorCodeName, Producer, PushConsumer, type Message } from '../../client/index.js';
import type { Logger } from '../../common/logging.js';
import type { Ledger, SendOutcome } from './ledger.js';
import type { RetrySample } from './recovery.js';

/** Sends one producer has unanswered at once; a stalled broker holds at most this many. */
export const PRODUCER_IN_FLIGHT_MAX = 16;
/** Pacing tick: sends due since the last tick are started together. */
const PACE_TICK_MS = 10;
/** A producer that fell behind its rate (sends stuck on a dead broker) catches up at most this much. */
const CATCH_UP_MS_MAX = 1_000;
/** Retry counters are sampled this often (for "when did producers last hit a failing broker"). */
const RETRY_SAMPLE_INTERVAL_MS = 100;
/** Body bytes of each message (plus the id in the properties). */
const BODY_BYTES = 128;

export interface WorkloadOptions {
  nameservers: string[];
  topic: string;
  group: string;
  producers: number;
  /** Messages per second per producer. */
  ratePerProducer: number;
  consumers: number;
  ledger: Ledger;
  /** Milliseconds since the workload started. */
  now: () => number;
  log: Logger;
  /** Distinguishes this run's message ids from any other's. */
  runTag: string;
}

/** Client settings of the chaos run: faster than the defaults so that the short run sees moves quickly. */
const CLIENT_SETTINGS = {
  routeRefreshIntervalMs: 2_000,
  requestTimeoutMs: 3_000,
} as const;

export class Workload {
  private readonly producers: Producer[] = [];
  private readonly consumers: PushConsumer[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private sampler: NodeJS.Timeout | undefined;
  readonly retrySamples: RetrySample[] = [];
  private readonly body = randomBytes(BODY_BYTES / 2).toString('hex');

  constructor(private readonly options: WorkloadOptions) {}

  /** Starts the consumers (so nothing sent is missed), then the producers. */
  async startConsumers(): Promise<void> {
    const { options } = this;
    for (let c = 0; c < options.consumers; c++) {
      const consumer = new PushConsumer({
        ...CLIENT_SETTINGS,
        nameservers: options.nameservers,
        group: options.group,
        topic: options.topic,
        from: 'first',
        concurrency: 8,
        heartbeatIntervalMs: 1_000,
        rebalanceIntervalMs: 1_000,
        commitIntervalMs: 1_000,
        clientId: `chaos-consumer-${c}`,
        log: options.log.child({ consumer: c }),
        handler: (message: Message) => {
          options.ledger.recordDelivery({
            consumer: c,
            id: message.messageId,
            brokerName: message.brokerName,
            queueId: message.queueId,
            queueOffset: message.queueOffset,
            atMs: options.now(),
          });
        },
      });
      await consumer.start();
      this.consumers.push(consumer);
    }
  }

  /**
   * Waits until the consumers' assignments are disjoint and cover `queueCount` queues (members
   * agree), so that start-up overlap does not count as duplicates. Resolves false on timeout.
   */
  async awaitStableAssignment(queueCount: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const keys = this.consumers.flatMap((c) => c.assignment().map((q) => `${q.brokerName}#${q.queueId}`));
      if (keys.length === queueCount && new Set(keys).size === queueCount) return true;
      await delay(100);
    }
    return false;
  }

  async startProducers(): Promise<void> {
    const { options } = this;
    for (let p = 0; p < options.producers; p++) {
      const producer = new Producer({ ...CLIENT_SETTINGS, nameservers: options.nameservers, group: 'chaos-producers', log: options.log.child({ producer: p }) });
      await producer.start();
      this.producers.push(producer);
      this.loops.push(this.produce(p, producer));
    }
    this.sampler = setInterval(() => {
      const total = this.producers.reduce((sum, producer) => sum + producer.stats().retries, 0);
      this.retrySamples.push({ atMs: options.now(), total });
    }, RETRY_SAMPLE_INTERVAL_MS);
  }

  /** Stops sending and waits for every send in flight to be answered. */
  async stopProducers(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await Promise.allSettled([...this.inFlight]);
    if (this.sampler) clearInterval(this.sampler);
  }

  consumerStats(): Array<ReturnType<PushConsumer['stats']>> {
    return this.consumers.map((c) => c.stats());
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.sampler) clearInterval(this.sampler);
    await Promise.allSettled(this.consumers.map((c) => c.shutdown()));
    await Promise.allSettled(this.producers.map((p) => p.shutdown()));
  }

  private async produce(index: number, producer: Producer): Promise<void> {
    const { options } = this;
    const mine = new Set<Promise<void>>();
    const startedAt = options.now();
    let due = 0;
    let seq = 0;
    while (!this.stopping) {
      const elapsed = options.now() - startedAt;
      due = Math.max(due, Math.floor(((elapsed - CATCH_UP_MS_MAX) * options.ratePerProducer) / 1000));
      const target = Math.floor((elapsed * options.ratePerProducer) / 1000);
      while (due < target && mine.size < PRODUCER_IN_FLIGHT_MAX && !this.stopping) {
        due++;
        const send = this.sendOne(index, producer, seq++);
        mine.add(send);
        this.inFlight.add(send);
        void send.finally(() => {
          mine.delete(send);
          this.inFlight.delete(send);
        });
      }
      await delay(PACE_TICK_MS);
    }
  }

  private async sendOne(producer: number, client: Producer, seq: number): Promise<void> {
    const { options } = this;
    const id = `${options.runTag}-p${producer}-${seq}`;
    const startedAtMs = options.now();
    try {
      const result = await client.send(options.topic, { body: this.body, messageId: id, properties: { producer: String(producer), seq: String(seq) } });
      options.ledger.recordSend({
        id,
        producer,
        seq,
        startedAtMs,
        endedAtMs: options.now(),
        outcome: result.status satisfies SendOutcome,
        brokerName: result.brokerName,
        queueId: result.queueId,
        queueOffset: result.queueOffset,
      });
    } catch (err) {
      options.ledger.recordSend({ id, producer, seq, startedAtMs, endedAtMs: options.now(), outcome: 'FAILED', error: err instanceof ConveyorError ? errorCodeName(err.code) : String(err) });
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
