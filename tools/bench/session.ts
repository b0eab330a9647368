// What every bench command shares around its measured loop: the clock, the progress ticker on
// stderr, Ctrl-C as "stop and report", creating the topic when it is missing, and printing the
// summary (JSON or text) on stdout.
import { performance } from 'node:perf_hooks';
import { Admin, isConveyorError, ErrorCode, type ClientOptions } from '../../client/index.js';
import type { BenchMeter } from './meter.js';
import { ProgressTicker } from './progress.js';
import { formatSummary, type BenchSummary } from './report.js';
import type { WorkBudget } from './budget.js';

/** The monotonic clock every bench measurement uses, in fractional milliseconds. */
export const now = (): number => performance.now();

/** Wall-clock milliseconds with sub-millisecond precision, comparable across the producer and consumer of one process. */
export const wallNowMs = (): number => performance.timeOrigin + performance.now();

/** createTopic waits this long for the nameservers to route a new topic before the run starts. */
const TOPIC_ROUTE_WAIT_MS = 15_000;

/** Starts the once-a-second progress line on stderr. */
export function startProgress(meter: BenchMeter, withLatency: boolean): ProgressTicker {
  const ticker = new ProgressTicker(meter, process.stderr, now, withLatency);
  ticker.start();
  return ticker;
}

/** The first SIGINT/SIGTERM stops the run and lets it report; returns the function that removes the handlers. */
export function stopOnSignal(budget: Pick<WorkBudget, 'stop'>): () => void {
  const onSignal = (): void => budget.stop('interrupted');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Creates the topic with `queues` queues on every master unless it exists already (then it is left as it is). */
export async function ensureTopic(clientOptions: ClientOptions, topic: string, queues: number): Promise<'created' | 'existing'> {
  const admin = new Admin(clientOptions);
  await admin.start();
  try {
    try {
      const description = await admin.describeTopic(topic);
      if (description.queues.length > 0) return 'existing';
    } catch (err) {
      if (!isConveyorError(err, ErrorCode.TOPIC_NOT_FOUND)) throw err;
    }
    await admin.createTopic(topic, { queues, routeWaitMs: TOPIC_ROUTE_WAIT_MS });
    return 'created';
  } finally {
    await admin.shutdown();
  }
}

/** Prints the summary on stdout: one JSON document with --json, else the text form. */
export function printSummary(summary: BenchSummary, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
}

/** CPU time (user + system) this process used since `since`, in milliseconds: the client's cost per run. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return Math.round((used.user + used.system) / 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
