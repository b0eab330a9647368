// `conveyor bench consume`: one push consumer in a consumer group reads the topic from its first
// offset (or where the group's committed offsets stand) and counts what arrives, until --count
// messages, --duration-s, or --idle-s without a message once the first arrived (the backlog is
// drained). Throughput is measured from the first message received to the last, so the group's
// join and rebalance do not count; the time to the first message is reported beside it. Offsets
// are committed on the consumer's interval and at shutdown.
import { PushConsumer, type ClientOptions, type Message } from '../../client/index.js';
import { WorkBudget } from './budget.js';
import { BenchMeter } from './meter.js';
import type { ConsumeOptions } from './options.js';
import { buildSummary, type BenchSummary } from './report.js';
import { cpuMsSince, now, sleep, startProgress, stopOnSignal } from './session.js';

/**
 * Messages asked for per pull and handed to one batch handler call: the client's maximum. Each
 * pull and each answer has a fixed cost on both sides, so the largest pull drains a backlog with
 * the least CPU per message (docs/performance.md "Numbers that shaped the code").
 */
const CONSUME_PULL_BATCH = 1_024;
/** Pulled, unhandled messages per queue: a few pulls ahead, so pulling never waits on counting. */
const CACHED_MESSAGES_PER_QUEUE = 4 * CONSUME_PULL_BATCH;
/** How often the run checks its stop conditions. */
const CHECK_INTERVAL_MS = 20;

export async function runConsume(options: ConsumeOptions, clientOptions: ClientOptions): Promise<BenchSummary> {
  const meter = new BenchMeter();
  const cpuStart = process.cpuUsage();
  const startedMs = now();
  const budget = new WorkBudget(options.stop, now, startedMs);
  let firstMs: number | undefined;
  let lastMs = startedMs;
  const onBatch = (batch: Message[]): void => {
    const at = now();
    firstMs ??= at;
    lastMs = at;
    let bytes = 0;
    for (const message of batch) bytes += message.body.byteLength;
    meter.recordDone(batch.length, bytes, null);
  };
  const consumer = new PushConsumer({
    ...clientOptions,
    group: options.group,
    topic: options.topic,
    from: 'first',
    batchHandler: onBatch,
    batchSize: CONSUME_PULL_BATCH,
    pullBatchSize: CONSUME_PULL_BATCH,
    maxCachedMessagesPerQueue: CACHED_MESSAGES_PER_QUEUE,
  });
  const removeSignals = stopOnSignal(budget);
  const progress = startProgress(meter, false);
  try {
    await consumer.start();
    while (!budget.stopped) {
      if (budget.isCountReached(meter.messages)) budget.stop('count');
      else if (options.idleStopMs > 0 && firstMs !== undefined && now() - lastMs >= options.idleStopMs) budget.stop('idle');
      else await sleep(CHECK_INTERVAL_MS);
    }
  } finally {
    progress.stop();
    removeSignals();
  }
  const clientCpuMs = cpuMsSince(cpuStart);
  await consumer.shutdown();
  const windowStart = firstMs ?? startedMs;
  return buildSummary({
    kind: 'consume',
    topic: options.topic,
    settings: { group: options.group, pullBatch: CONSUME_PULL_BATCH },
    meter,
    elapsedMs: lastMs - windowStart,
    stoppedBy: budget.reason,
    withLatency: false,
    details: { timeToFirstMessageMs: firstMs === undefined ? -1 : Math.round(firstMs - startedMs), clientCpuMs },
  });
}
