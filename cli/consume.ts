// `conveyor consume`: join a consumer group, print messages one per line, commit what was printed
// and leave. Stops when --count messages were printed or --timeout-ms passed (or on Ctrl-C).
import { Option, type Command } from 'commander';
import { ConveyorError, ErrorCode } from '../common/errors.js';
import type { Message } from '../client/message.js';
import { PushConsumer } from '../client/consumer/push-consumer.js';
import { clientOptions, globalOptions, integerOption, printLine } from './shared.js';

/** Default wait with --count: long enough for a cluster that is still electing routes. */
const CONSUME_TIMEOUT_MS_WITH_COUNT = 60_000;
/** Default wait without --count: read what is there, then stop. */
const CONSUME_TIMEOUT_MS_WITHOUT_COUNT = 10_000;
const CONSUME_COUNT_MAX = 100_000_000;

interface ConsumeOptions {
  topic: string;
  group: string;
  count?: number;
  timeoutMs?: number;
  from: 'first' | 'last';
  tag?: string;
}

/** Handed to the consumer for messages past --count: they stay unconsumed (not committed). */
class CountReached extends Error {}

export function registerConsumeCommand(program: Command): void {
  program
    .command('consume')
    .description('read messages as a member of a consumer group, one per line, committing what was printed')
    .requiredOption('--topic <topic>', 'topic to read')
    .requiredOption('--group <group>', 'consumer group (its committed offsets decide where reading starts)')
    .option('--count <n>', 'stop after this many messages', integerOption(1, CONSUME_COUNT_MAX))
    .option('--timeout-ms <ms>', `stop after this long (default ${CONSUME_TIMEOUT_MS_WITH_COUNT} with --count, ${CONSUME_TIMEOUT_MS_WITHOUT_COUNT} without)`, integerOption(1, 24 * 3600 * 1000))
    .addOption(new Option('--from <position>', 'where a group with no committed offset starts').choices(['first', 'last']).default('first'))
    .option('--tag <expression>', "only messages with these tags: 'a' or 'a || b' (default every message)")
    .action(async (opts: ConsumeOptions, cmd: Command) => consume(opts, cmd));
}

function messageLine(message: Message, json: boolean): string {
  const body = message.body.toString('utf8');
  if (json) {
    return JSON.stringify({ id: message.messageId, topic: message.topic, broker: message.brokerName, queue: message.queueId, offset: message.queueOffset, keys: message.keys, tag: message.tag, body });
  }
  // One message, one line: line breaks inside a body are shown escaped.
  return body.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

async function consume(opts: ConsumeOptions, cmd: Command): Promise<void> {
  const { json } = globalOptions(cmd);
  const target = opts.count ?? Number.POSITIVE_INFINITY;
  const timeoutMs = opts.timeoutMs ?? (opts.count === undefined ? CONSUME_TIMEOUT_MS_WITHOUT_COUNT : CONSUME_TIMEOUT_MS_WITH_COUNT);
  let received = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const consumer = new PushConsumer({
    ...clientOptions(cmd),
    group: opts.group,
    topic: opts.topic,
    tagExpression: opts.tag,
    from: opts.from,
    // One handler at a time: lines come out in offset order per queue and the count is exact.
    concurrency: 1,
    handler: (message) => {
      if (received >= target) throw new CountReached('count reached');
      received++;
      printLine(messageLine(message, json));
      if (received >= target) finish();
    },
  });
  const timer = setTimeout(finish, timeoutMs);
  const onSignal = (): void => finish();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await consumer.start();
    await finished;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await consumer.shutdown();
  }
  if (opts.count !== undefined && received < opts.count) {
    throw new ConveyorError(ErrorCode.TIMEOUT, `received ${received} of ${opts.count} messages from topic ${opts.topic} within ${timeoutMs} ms`, { received, count: opts.count, timeoutMs });
  }
  if (!json) process.stderr.write(`Received ${received} message${received === 1 ? '' : 's'} from topic ${opts.topic} as group ${opts.group}\n`);
}
