// `npm run chaos -- [--seed S] [--duration-s N] [--kill-every-s K] [--replication sync|async] …`:
// one chaos run against a fresh local cluster; prints the seed first, the report at the end, and
// exits 0 only if every check passed. docs/chaos.md explains the report.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { runChaos } from './chaos-run.js';
import { FAULT_KINDS, type FaultKind } from './schedule.js';

/** Longest run the command accepts: bounded in time, as the issue asks. */
const DURATION_S_MAX = 3_600;

function positiveInt(name: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return n;
  };
}

function parseKinds(value: string): Partial<Record<FaultKind, number>> {
  const weights: Partial<Record<FaultKind, number>> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0]));
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [kind, weight = '1'] = part.split('=');
    if (!(FAULT_KINDS as readonly string[]).includes(kind ?? '')) throw new InvalidArgumentError(`unknown fault kind '${kind}'; kinds: ${FAULT_KINDS.join(', ')}`);
    weights[kind as FaultKind] = positiveInt(`weight of ${kind}`, 100)(weight);
  }
  return weights;
}

const program = new Command('chaos')
  .description('Run the Conveyor chaos suite against a fresh local cluster and report lost, duplicated and out-of-order messages and recovery times')
  .option('--seed <seed>', 'seed of the fault schedule (printed first; reuse it to replay a run)', String(randomInt(1, 1_000_000)))
  .option('--duration-s <n>', 'how long producers send', positiveInt('--duration-s', DURATION_S_MAX), 300)
  .option('--kill-every-s <n>', 'mean time between faults', positiveInt('--kill-every-s', 600), 10)
  .addOption(new Option('--replication <mode>', 'replication mode of every broker group').choices(['sync', 'async']).default('sync'))
  .option('--producers <n>', 'producers', positiveInt('--producers', 32), 3)
  .option('--rate <n>', 'messages per second per producer', positiveInt('--rate', 10_000), 200)
  .option('--consumers <n>', 'push consumers in the group', positiveInt('--consumers', 32), 3)
  .option('--faults <list>', `fault kinds with weights, e.g. kill-master=3,pause-broker=1 (default ${FAULT_KINDS.join(', ')} weighted 3,2,1,2,2)`, parseKinds)
  .option('--drain-timeout-s <n>', 'how long consumers get to deliver everything after the producers stop', positiveInt('--drain-timeout-s', 3_600), 60)
  .option('--report <file>', 'JSON report path (default tmp/chaos/report-<seed>-<replication>-<time>.json)')
  .option('--keep', 'keep the cluster directory (data and logs) even when the run passed', false)
  .option('--log-level <level>', 'log level of the clients in this process (stderr, JSON)', 'silent');

program.parse(process.argv);
const flags = program.opts<{
  seed: string;
  durationS: number;
  killEveryS: number;
  replication: 'sync' | 'async';
  producers: number;
  rate: number;
  consumers: number;
  faults?: Partial<Record<FaultKind, number>>;
  drainTimeoutS: number;
  report?: string;
  keep: boolean;
  logLevel: string;
}>();

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const reportFile = resolve(flags.report ?? join('tmp', 'chaos', `report-${flags.seed}-${flags.replication}-${stamp}.json`));
mkdirSync(resolve(reportFile, '..'), { recursive: true });
const log = pino({ name: 'chaos', level: flags.logLevel }, pino.destination(2));

const report = await runChaos({
  seed: flags.seed,
  durationS: flags.durationS,
  killEveryS: flags.killEveryS,
  replication: flags.replication,
  producers: flags.producers,
  ratePerProducer: flags.rate,
  consumers: flags.consumers,
  weights: flags.faults,
  drainTimeoutMs: flags.drainTimeoutS * 1000,
  reportFile,
  keep: flags.keep,
  log,
});
process.exit(report.passed ? 0 : 1);
