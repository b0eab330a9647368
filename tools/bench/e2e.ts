// `conveyor bench e2e`: a producer sends single messages at a fixed rate while a push consumer in
// its own group receives them in the same process; latency = receive time − send time, carried in
// the body (e2e-body.ts). The send time is the moment the send is issued; the pacer wakes on a 1 ms
// timer, so a send is issued up to ~1 ms after its slot. That lag is the pacer's, not the
// cluster's, and is reported on its own (pacerLagP99Ms): a stalled pacer shows there instead of
// hiding (coordinated omission). Before the measured phase a join check sends a few messages until
// the consumer receives one, so the group's join and rebalance are not measured; then, with
// --warmup-s, the pacer sends at --rate for that long and keeps those messages' latency apart
// (details.warmup*), as OpenMessaging Benchmark's warm-up does: fresh processes spend their first
// seconds in V8's interpreter and baseline code (docs/performance.md).
import { randomBytes } from 'node:crypto';
import { ConveyorError, ErrorCode, Producer, PushConsumer, type ClientOptions, type Message } from '../../client/index.js';
import { WorkBudget, slotTimeMs, slotsDue } from './budget.js';
import { decodeE2eBody, encodeE2eBody, RUN_TOKEN_BYTES } from './e2e-body.js';
import { LatencyHistogram } from './histogram.js';
import { BenchMeter } from './meter.js';
import type { E2eOptions } from './options.js';
import { buildSummary, type BenchSummary } from './report.js';
import { cpuMsSince, ensureTopic, now, sleep, startProgress, stopOnSignal, wallNowMs } from './session.js';

/** Longest wait for the consumer to receive its first join-check message. */
const E2E_WARMUP_TIMEOUT_MS = 30_000;
/** One join-check message this often until the consumer sees one. */
const WARMUP_SEND_INTERVAL_MS = 50;
/** After the last send, wait this long at most for outstanding acknowledgements and receipts. */
const E2E_DRAIN_TIMEOUT_MS = 10_000;
/** The pacer wakes this often and issues every send that has come due. */
const PACER_TICK_MS = 1;
/** Sequence numbers tracked for duplicate detection (one bit each): 2 MiB of bits. */
const TRACKED_SEQUENCES_MAX = 16 * 1024 * 1024;
const BENCH_PRODUCER_GROUP = 'conveyor-bench';

export async function runE2e(options: E2eOptions, clientOptions: ClientOptions): Promise<BenchSummary> {
  await ensureTopic(clientOptions, options.topic, options.queues);
  const token = randomBytes(RUN_TOKEN_BYTES);
  const meter = new BenchMeter();
  const sendLatency = new LatencyHistogram();
  const pacerLag = new LatencyHistogram();
  const warmupLatency = new LatencyHistogram();
  const seen = new Uint8Array(Math.ceil(Math.min(TRACKED_SEQUENCES_MAX, (options.ratePerS * options.durationMs) / 1000 + 1) / 8));
  const counts = { joinReceived: 0, warmupSent: 0, warmupReceived: 0, duplicates: 0, acked: 0, sendFailed: 0, missedSlots: 0, inFlight: 0 };
  const onBatch = (batch: Message[]): void => {
    const receivedAt = wallNowMs();
    for (const message of batch) {
      const stamp = decodeE2eBody(message.body, token);
      if (stamp === null) continue;
      if (stamp.phase === 'join') {
        counts.joinReceived++;
        continue;
      }
      if (stamp.phase === 'warmup') {
        counts.warmupReceived++;
        warmupLatency.recordMs(receivedAt - stamp.sentAtMs);
        continue;
      }
      const byte = stamp.sequence >>> 3;
      const bit = 1 << (stamp.sequence & 7);
      if (byte < seen.length) {
        if (((seen[byte] ?? 0) & bit) !== 0) {
          counts.duplicates++;
          continue;
        }
        seen[byte] = (seen[byte] ?? 0) | bit;
      }
      meter.recordDone(1, message.body.byteLength, receivedAt - stamp.sentAtMs);
    }
  };
  const consumer = new PushConsumer({ ...clientOptions, group: options.group, topic: options.topic, from: 'last', batchHandler: onBatch, batchSize: 32 });
  const producer = new Producer({ ...clientOptions, group: BENCH_PRODUCER_GROUP, rpcsInFlightPerQueue: options.rpcsPerQueue });
  const budget = new WorkBudget({ kind: 'duration', durationMs: options.durationMs + options.warmupMs + E2E_WARMUP_TIMEOUT_MS }, now);
  const removeSignals = stopOnSignal(budget);
  let measuredStartMs = now();
  let measuredEndMs = measuredStartMs;
  let sent = 0;
  let cpuStart = process.cpuUsage();
  let clientCpuMs = 0;
  try {
    await producer.start();
    await consumer.start();
    await warmUp(producer, options, token, () => counts.joinReceived > 0, budget);
    const send = (sequence: number, intendedAtMs: number): void => {
      if (counts.inFlight >= options.inFlight) {
        counts.missedSlots++;
        return;
      }
      counts.inFlight++;
      const sentAtMs = wallNowMs();
      pacerLag.recordMs(sentAtMs - intendedAtMs);
      const body = encodeE2eBody(options.sizeBytes, token, { sentAtMs, sequence, phase: 'measured' });
      producer.send(options.topic, { body }).then(
        (result) => {
          sendLatency.recordMs(wallNowMs() - sentAtMs);
          if (result.status === 'OK') counts.acked++;
          else meter.recordErrorKind(result.status);
        },
        (err: unknown) => {
          counts.sendFailed++;
          meter.recordError(err);
        },
      ).finally(() => counts.inFlight--);
    };
    // Warm-up at rate: the same pacing and sends, counted apart; errors here fail nothing.
    const warmupSend = (sequence: number): void => {
      if (counts.inFlight >= options.inFlight) return;
      counts.inFlight++;
      counts.warmupSent++;
      const body = encodeE2eBody(options.sizeBytes, token, { sentAtMs: wallNowMs(), sequence, phase: 'warmup' });
      producer.send(options.topic, { body }).then(() => undefined, () => undefined).finally(() => counts.inFlight--);
    };
    if (options.warmupMs > 0) await pace(options.ratePerS, options.warmupMs, budget, now(), warmupSend);
    const progress = startProgress(meter, true);
    measuredStartMs = now();
    cpuStart = process.cpuUsage();
    const wallStartMs = wallNowMs();
    try {
      sent = await pace(options.ratePerS, options.durationMs, budget, measuredStartMs, (slot) => send(slot, wallStartMs + slotTimeMs(slot, options.ratePerS)));
      measuredEndMs = now();
      clientCpuMs = cpuMsSince(cpuStart);
      const drainUntil = measuredEndMs + E2E_DRAIN_TIMEOUT_MS;
      while ((counts.inFlight > 0 || meter.messages < counts.acked) && now() < drainUntil && !budget.stopped) await sleep(PACER_TICK_MS * 10);
    } finally {
      progress.stop();
    }
  } finally {
    removeSignals();
    await consumer.shutdown();
    await producer.shutdown();
  }
  const sendPercentiles = sendLatency.percentiles();
  return buildSummary({
    kind: 'e2e',
    topic: options.topic,
    settings: { group: options.group, rate: options.ratePerS, size: options.sizeBytes, inFlight: options.inFlight, queues: options.queues, rpcsPerQueue: options.rpcsPerQueue, warmupS: options.warmupMs / 1000 },
    meter,
    elapsedMs: measuredEndMs - measuredStartMs,
    stoppedBy: budget.reason === 'timeout' ? 'duration' : budget.reason,
    withLatency: true,
    details: {
      sent,
      acked: counts.acked,
      received: meter.messages,
      notReceived: Math.max(0, counts.acked - meter.messages),
      duplicates: counts.duplicates,
      missedSlots: counts.missedSlots,
      sendP50Ms: round3(sendPercentiles.p50Ms),
      sendP99Ms: round3(sendPercentiles.p99Ms),
      pacerLagP99Ms: round3(pacerLag.percentileMs(99)),
      clientCpuMs,
      ...(options.warmupMs > 0 ? warmupDetails(options.warmupMs, counts.warmupSent, counts.warmupReceived, warmupLatency) : {}),
    },
  });
}

/**
 * The pacer: issues slots 0, 1, … at `ratePerS` from `startMs` for `durationMs` (or until the
 * budget stops), waking every PACER_TICK_MS and issuing every slot that has come due; returns the
 * slots issued.
 */
async function pace(ratePerS: number, durationMs: number, budget: WorkBudget, startMs: number, issue: (slot: number) => void): Promise<number> {
  let slot = 0;
  while (!budget.stopped) {
    const elapsedMs = now() - startMs;
    if (elapsedMs >= durationMs) break;
    for (let due = slotsDue(elapsedMs, ratePerS, slot); due > 0; due--, slot++) issue(slot);
    await sleep(PACER_TICK_MS);
  }
  return slot;
}

/** The warm-up phase's figures (details.warmup*): sent, received and its own latency percentiles. */
function warmupDetails(warmupMs: number, sent: number, received: number, latency: LatencyHistogram): Record<string, number> {
  const p = latency.percentiles();
  return { warmupS: warmupMs / 1000, warmupSent: sent, warmupReceived: received, warmupP50Ms: round3(p.p50Ms), warmupP99Ms: round3(p.p99Ms), warmupMaxMs: round3(p.maxMs) };
}

/** Sends join-check messages until the consumer has received one (bounded by E2E_WARMUP_TIMEOUT_MS). */
async function warmUp(producer: Producer, options: E2eOptions, token: Buffer, received: () => boolean, budget: WorkBudget): Promise<void> {
  const until = now() + E2E_WARMUP_TIMEOUT_MS;
  let sequence = 0;
  while (!received()) {
    if (now() >= until || budget.stopped) {
      throw new ConveyorError(
        ErrorCode.TIMEOUT,
        `the consumer received no message within ${E2E_WARMUP_TIMEOUT_MS} ms of warm-up sends to topic '${options.topic}'; check 'conveyor cluster status' and the broker logs`,
        { topic: options.topic },
      );
    }
    const body = encodeE2eBody(options.sizeBytes, token, { sentAtMs: wallNowMs(), sequence: sequence++, phase: 'join' });
    await producer.send(options.topic, { body }).catch(() => undefined);
    await sleep(WARMUP_SEND_INTERVAL_MS);
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
