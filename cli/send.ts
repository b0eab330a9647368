// `conveyor send`: send one message, or --count copies of it, and report where they were stored.
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ConveyorError, ErrorCode } from '../common/errors.js';
import { BATCH_MESSAGE_COUNT_MAX } from '../common/limits.js';
import type { OutgoingMessage } from '../client/message.js';
import { Producer, type SendResult } from '../client/producer/producer.js';
import { clientOptions, globalOptions, integerOption, printLine } from './shared.js';

/** Most messages one `send` command sends. */
const SEND_COUNT_MAX = 10_000_000;
/** Sends (or batches) outstanding at once: enough to fill the pipe, few enough to spread round-robin. */
const SEND_IN_FLIGHT = 32;

interface SendOptions {
  topic: string;
  tag?: string;
  key: string[];
  body?: string;
  file?: string;
  count: number;
  batch: number;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send a message (or --count copies) and report where each was stored')
    .requiredOption('--topic <topic>', 'topic to send to')
    .option('--tag <tag>', 'the tag consumers can filter on')
    .option('--key <key>', 'a business key (repeatable); find messages by it with `message get --topic T --key K`', collect, [])
    .addOption(new Option('--body <text>', 'message body as text').conflicts('file'))
    .addOption(new Option('--file <path>', 'message body from a file (bytes as they are)').conflicts('body'))
    .option('--count <n>', 'send this many copies (default 1)', integerOption(1, SEND_COUNT_MAX), 1)
    .option('--batch <n>', `messages per send RPC (default 1; at most ${BATCH_MESSAGE_COUNT_MAX})`, integerOption(1, BATCH_MESSAGE_COUNT_MAX), 1)
    .action(async (opts: SendOptions, cmd: Command) => {
      if (opts.body === undefined && opts.file === undefined) cmd.error('error: give the body with --body TEXT or --file PATH');
      await send(opts, cmd);
    });
}

function readBody(opts: SendOptions): Uint8Array | string {
  if (opts.file === undefined) return opts.body ?? '';
  try {
    return readFileSync(opts.file);
  } catch (err) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `cannot read --file ${opts.file}: ${err instanceof Error ? err.message : String(err)}`, { file: opts.file }, { cause: err });
  }
}

async function send(opts: SendOptions, cmd: Command): Promise<void> {
  const { json } = globalOptions(cmd);
  const body = readBody(opts);
  const message: OutgoingMessage = { body, keys: opts.key.length > 0 ? opts.key : undefined, tag: opts.tag };
  const producer = new Producer(clientOptions(cmd));
  await producer.start();
  const results: SendResult[] = [];
  const report = (batch: SendResult[]): void => {
    results.push(...batch);
    if (json) {
      for (const r of batch) printLine(JSON.stringify({ id: r.messageId, broker: r.brokerName, queue: r.queueId, queueOffset: r.queueOffset, status: r.status }));
    }
  };
  const started = Date.now();
  let remaining = opts.count;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (remaining > 0 && failure === undefined) {
      const size = Math.min(opts.batch, remaining);
      remaining -= size;
      try {
        if (size === 1 && opts.batch === 1) report([await producer.send(opts.topic, message)]);
        else report(await producer.sendBatch(opts.topic, Array.from({ length: size }, () => ({ ...message }))));
      } catch (err) {
        failure ??= err;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(SEND_IN_FLIGHT, Math.ceil(opts.count / opts.batch)) }, worker));
  } finally {
    await producer.shutdown();
  }
  if (!json && (failure === undefined || results.length > 0)) printLine(summary(opts, results, Date.now() - started));
  if (failure !== undefined) throw failure;
}

function summary(opts: SendOptions, results: readonly SendResult[], elapsedMs: number): string {
  const count = (values: string[]): string =>
    [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>())].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
  if (opts.count === 1 && results.length === 1) {
    const r = results[0] as SendResult;
    return `Sent message ${r.messageId} to ${r.topic} ${r.brokerName} queue ${r.queueId} at offset ${r.queueOffset}: ${r.status}${r.duplicate ? ' (duplicate of an earlier send)' : ''}`;
  }
  const statuses = count(results.map((r) => r.status));
  const brokers = count(results.map((r) => r.brokerName));
  return `Sent ${results.length} of ${opts.count} messages to topic ${opts.topic} in ${(elapsedMs / 1000).toFixed(1)} s (${statuses || 'none'}; ${brokers || 'no broker'})`;
}
