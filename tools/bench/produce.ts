// `conveyor bench produce`: producers × in-flight workers send batches of fixed-size messages as
// fast as the acknowledgements come back, until --count messages were sent or --duration-s is
// over. Latency per message is send → acknowledged (a batch's latency counts once per message).
import { Producer, type ClientOptions, type OutgoingMessage, type SendResult } from '../../client/index.js';
import { WorkBudget } from './budget.js';
import { BenchMeter } from './meter.js';
import type { ProduceOptions } from './options.js';
import { buildSummary, type BenchSummary } from './report.js';
import { cpuMsSince, ensureTopic, now, sleep, startProgress, stopOnSignal } from './session.js';

/** A worker whose send failed waits this long before the next one, so an outage is not a busy loop. */
const ERROR_BACKOFF_MS = 50;
/** Producer group of the bench (shows in broker metrics). */
const BENCH_PRODUCER_GROUP = 'conveyor-bench';

export async function runProduce(options: ProduceOptions, clientOptions: ClientOptions): Promise<BenchSummary> {
  const topic = await ensureTopic(clientOptions, options.topic, options.queues);
  const body = Buffer.alloc(options.sizeBytes, 0x62);
  const producers = Array.from({ length: options.producers }, () => new Producer({ ...clientOptions, group: BENCH_PRODUCER_GROUP, rpcsInFlightPerQueue: options.rpcsPerQueue }));
  await Promise.all(producers.map((p) => p.start()));
  const meter = new BenchMeter();
  const cpuStart = process.cpuUsage();
  const startedMs = now();
  const budget = new WorkBudget(options.stop, now, startedMs);
  const removeSignals = stopOnSignal(budget);
  const progress = startProgress(meter, true);
  let lastDoneMs = startedMs;
  const send = async (producer: Producer, count: number): Promise<void> => {
    const sentMs = now();
    try {
      const results = count === 1 && options.batch === 1 ? [await producer.send(options.topic, { body })] : await producer.sendBatch(options.topic, messages(body, count));
      const doneMs = now();
      const ok = countOk(results, meter);
      if (ok > 0) meter.recordDone(ok, ok * options.sizeBytes, doneMs - sentMs);
      lastDoneMs = doneMs;
    } catch (err) {
      meter.recordError(err);
      await sleep(ERROR_BACKOFF_MS);
    }
  };
  const worker = async (producer: Producer): Promise<void> => {
    for (let granted = budget.claim(options.batch); granted > 0; granted = budget.claim(options.batch)) {
      await send(producer, granted);
    }
  };
  try {
    await Promise.all(producers.flatMap((producer) => Array.from({ length: options.inFlight }, () => worker(producer))));
  } finally {
    progress.stop();
    removeSignals();
  }
  const clientCpuMs = cpuMsSince(cpuStart);
  await Promise.all(producers.map((p) => p.shutdown()));
  const retries = producers.reduce((sum, p) => sum + p.stats().retries, 0);
  return buildSummary({
    kind: 'produce',
    topic: options.topic,
    settings: {
      size: options.sizeBytes,
      batch: options.batch,
      producers: options.producers,
      inFlight: options.inFlight,
      queues: options.queues,
      rpcsPerQueue: options.rpcsPerQueue,
      topicWas: topic,
    },
    meter,
    elapsedMs: lastDoneMs - startedMs,
    stoppedBy: budget.reason,
    withLatency: true,
    details: { retries, clientCpuMs },
  });
}

function messages(body: Buffer, count: number): OutgoingMessage[] {
  const out: OutgoingMessage[] = new Array<OutgoingMessage>(count);
  for (let i = 0; i < count; i++) out[i] = { body };
  return out;
}

/** Counts OK results; a stored-but-not-replicated status (SLAVE_TIMEOUT …) is an error of that name. */
function countOk(results: readonly SendResult[], meter: BenchMeter): number {
  let ok = 0;
  for (const result of results) {
    if (result.status === 'OK') ok++;
    else meter.recordErrorKind(result.status);
  }
  return ok;
}
