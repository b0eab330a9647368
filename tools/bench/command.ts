// `conveyor bench produce|consume|e2e`: the benchmark tool's command line. Thin: flags are read
// and checked by options.ts, the runs are produce.ts / consume.ts / e2e.ts, the summary goes to
// stdout (text, or one JSON document with --json) and the progress line to stderr. Errors are
// thrown as ConveyorError for the CLI's one error printer.
import type { Command } from 'commander';
import type { ClientOptions } from '../../client/index.js';
import { runConsume } from './consume.js';
import { runE2e } from './e2e.js';
import { parseConsumeOptions, parseE2eOptions, parseProduceOptions, type RawOptions } from './options.js';
import { runProduce } from './produce.js';
import { printSummary } from './session.js';

/** The client options every bench run uses: the global --nameservers (else CONVEYOR_NAMESERVERS, else the client default). */
function clientOptionsOf(cmd: Command): ClientOptions {
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const value: unknown = c.opts().nameservers;
    if (typeof value === 'string' && value.length > 0) return { nameservers: value };
  }
  return {};
}

/**
 * This command's flags as strings. When the root program declares a flag of the same name (e.g.
 * --json), commander hands the value typed after `bench produce` to the root; a parent's value
 * counts when it was typed on the command line, never when it came from a default or the env.
 */
function rawOptions(cmd: Command): RawOptions {
  const raw: RawOptions = {};
  for (const option of cmd.options) {
    const key = option.attributeName();
    let value: unknown = cmd.opts()[key];
    for (let parent = cmd.parent; value === undefined && parent !== null; parent = parent.parent) {
      if (parent.getOptionValueSource(key) === 'cli') value = parent.opts()[key];
    }
    if (typeof value === 'string' || typeof value === 'boolean') raw[key] = value;
  }
  return raw;
}

const STOP_HELP = {
  count: 'stop after this many messages',
  duration: 'stop after this many seconds (default: produce 10, consume 60 when no --count)',
  timeout: 'a --count run stops after this many seconds anyway (default 600)',
};

const RPCS_PER_QUEUE_HELP = 'send RPCs in flight per queue for coalesced single sends: the producer option rpcsInFlightPerQueue (default 1; 1 to 16)';

/** Adds `bench produce|consume|e2e` to the `conveyor` program. */
export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('measure throughput and latency against a running cluster (see docs/performance.md)');

  bench
    .command('produce')
    .description('send fixed-size messages as fast as acknowledgements return; report msgs/s, MB/s and send → ack latency')
    .requiredOption('--topic <topic>', 'topic to send to (created with --queues queues if missing)')
    .option('--size <bytes>', 'message body size (default 1024)')
    .option('--count <n>', STOP_HELP.count)
    .option('--duration-s <s>', STOP_HELP.duration)
    .option('--timeout-s <s>', STOP_HELP.timeout)
    .option('--batch <n>', 'messages per send RPC (default 1: single sends)')
    .option('--producers <n>', 'producer clients, each with its own connections (default 1)')
    .option('--in-flight <n>', 'sends outstanding per producer (default 256)')
    .option('--rpcs-per-queue <n>', RPCS_PER_QUEUE_HELP)
    .option('--queues <n>', 'queues per broker group when the topic is created (default 8)')
    .option('--json', 'print the summary as one JSON document')
    .action(async (_opts: RawOptions, cmd: Command) => {
      const options = parseProduceOptions(rawOptions(cmd));
      printSummary(await runProduce(options, clientOptionsOf(cmd)), options.json);
    });

  bench
    .command('consume')
    .description('read a topic from its first offset in a consumer group (offsets committed); report msgs/s and MB/s')
    .requiredOption('--topic <topic>', 'topic to read')
    .requiredOption('--group <group>', 'consumer group (a new group reads from the first offset)')
    .option('--count <n>', STOP_HELP.count)
    .option('--duration-s <s>', STOP_HELP.duration)
    .option('--timeout-s <s>', STOP_HELP.timeout)
    .option('--idle-s <s>', 'stop once nothing arrived for this long after the first message: the backlog is drained (default 5; 0 = never)')
    .option('--json', 'print the summary as one JSON document')
    .action(async (_opts: RawOptions, cmd: Command) => {
      const options = parseConsumeOptions(rawOptions(cmd));
      printSummary(await runConsume(options, clientOptionsOf(cmd)), options.json);
    });

  bench
    .command('e2e')
    .description('send at a fixed rate while a consumer group receives; report send → receive latency')
    .requiredOption('--topic <topic>', 'topic to send to and read (created with --queues queues if missing)')
    .option('--rate <n>', 'messages per second (default 2000)')
    .option('--duration-s <s>', 'length of the measured phase in seconds (default 30)')
    .option('--warmup-s <s>', 'send at --rate this long before the measured phase; its latency is reported apart (default 0)')
    .option('--size <bytes>', 'message body size, at least 32 (default 1024)')
    .option('--group <group>', 'consumer group (default a new one per run)')
    .option('--in-flight <n>', 'unacknowledged sends before a slot is skipped and counted as missed (default 1000)')
    .option('--queues <n>', 'queues per broker group when the topic is created (default 8)')
    .option('--rpcs-per-queue <n>', RPCS_PER_QUEUE_HELP)
    .option('--json', 'print the summary as one JSON document')
    .action(async (_opts: RawOptions, cmd: Command) => {
      const options = parseE2eOptions(rawOptions(cmd), `conveyor-bench-e2e-${process.pid}`);
      printSummary(await runE2e(options, clientOptionsOf(cmd)), options.json);
    });
}
