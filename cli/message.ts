// `conveyor message get --id ID | --topic T --key K`.
import { Option, type Command } from 'commander';
import type { Message } from '../client/message.js';
import { formatTime, globalOptions, printJson, printLine, withAdmin } from './shared.js';

interface GetOptions {
  id?: string;
  topic?: string;
  key?: string;
}

export function registerMessageCommands(program: Command): void {
  const message = program.command('message').description('look stored messages up by id or by key');

  message
    .command('get')
    .description('find a message by its id (every broker is asked), or the messages of a topic carrying a key')
    .addOption(new Option('--id <id>', 'message id').conflicts(['topic', 'key']))
    .option('--topic <topic>', 'topic (with --key)')
    .option('--key <key>', 'business key (with --topic)')
    .action(async (opts: GetOptions, cmd: Command) => {
      if (opts.id === undefined && (opts.topic === undefined || opts.key === undefined)) cmd.error('error: give --id ID, or --topic T with --key K');
      const found = await withAdmin(cmd, (admin) => (opts.id !== undefined ? admin.getMessageById(opts.id) : admin.getMessagesByKey(opts.topic as string, opts.key as string)));
      if (globalOptions(cmd).json) return printJson(found.map(messageJson));
      found.forEach((m, i) => {
        if (i > 0) printLine('');
        printLine(describe(m));
      });
    });
}

function messageJson(m: Message): Record<string, unknown> {
  return {
    id: m.messageId,
    topic: m.topic,
    broker: m.brokerName,
    queue: m.queueId,
    offset: m.queueOffset,
    physicalOffset: m.physicalOffset,
    keys: m.keys,
    tag: m.tag,
    properties: m.properties,
    bornTimestampMs: m.bornTimestampMs,
    storeTimestampMs: m.storeTimestampMs,
    body: m.body.toString('utf8'),
  };
}

function describe(m: Message): string {
  const lines = [
    `id:         ${m.messageId}`,
    `topic:      ${m.topic}`,
    `stored:     ${m.brokerName} queue ${m.queueId} offset ${m.queueOffset} (physical offset ${m.physicalOffset}) at ${formatTime(m.storeTimestampMs)}`,
    `born:       ${formatTime(m.bornTimestampMs)}`,
    `keys:       ${m.keys.join(', ') || '-'}`,
    `tag:        ${m.tag || '-'}`,
  ];
  for (const [name, value] of Object.entries(m.properties)) lines.push(`property:   ${name}=${value}`);
  lines.push(`body:       ${m.body.toString('utf8')}`);
  return lines.join('\n');
}
