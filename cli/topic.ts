// `conveyor topic create|list|describe|delete`.
import type { Command } from 'commander';
import { TOPIC_QUEUES_DEFAULT, TOPIC_QUEUES_MAX } from '../client/admin/admin.js';
import { formatTime, globalOptions, integerOption, printJson, printLine, table, withAdmin } from './shared.js';

export function registerTopicCommands(program: Command): void {
  const topic = program.command('topic').description('create, list, describe and delete topics');

  topic
    .command('create')
    .description('create (or update) a topic on every master of the cluster')
    .argument('<name>', 'topic name: 1 to 127 of A-Z a-z 0-9 _ % -')
    .option('--queues <n>', `queues per broker group (default ${TOPIC_QUEUES_DEFAULT})`, integerOption(1, TOPIC_QUEUES_MAX))
    .option('--brokers <names>', 'only these broker groups, comma-separated (default: every master)')
    .option('--read-only', 'create it readable but not writable (perm 4)')
    .action(async (name: string, opts: { queues?: number; brokers?: string; readOnly?: boolean }, cmd: Command) => {
      const result = await withAdmin(cmd, (admin) =>
        admin.createTopic(name, {
          queues: opts.queues,
          perm: opts.readOnly ? 4 : 6,
          brokers: opts.brokers === undefined ? undefined : opts.brokers.split(',').map((b) => b.trim()).filter((b) => b.length > 0),
        }),
      );
      if (globalOptions(cmd).json) return printJson(result);
      printLine(`Created topic ${result.topic} with ${result.queues} queues on ${result.brokers.join(', ')}`);
      if (!result.routed) printLine('Note: the nameservers do not route it yet; it appears once the brokers next register.');
    });

  topic
    .command('list')
    .description('every topic some live broker group serves')
    .action(async (_opts: unknown, cmd: Command) => {
      const topics = await withAdmin(cmd, (admin) => admin.listTopics());
      if (globalOptions(cmd).json) return printJson(topics);
      for (const name of topics) printLine(name);
    });

  topic
    .command('describe')
    .description('the broker groups serving a topic and, per queue, its offset range')
    .argument('<name>', 'topic name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const description = await withAdmin(cmd, (admin) => admin.describeTopic(name));
      if (globalOptions(cmd).json) return printJson(description);
      printLine(`Topic ${description.topic}`);
      printLine(
        table(
          ['BROKER', 'READ', 'WRITE', 'PERM', 'ADDRESSES'],
          description.brokers.map((b) => [b.brokerName, b.readQueueCount, b.writeQueueCount, b.perm, b.addresses.map((a) => `${a.brokerId}=${a.address}`).join(' ')]),
        ),
      );
      printLine('');
      printLine(table(['BROKER', 'QUEUE', 'MIN', 'MAX', 'MESSAGES', 'LAST STORED'], description.queues.map((q) => [q.brokerName, q.queueId, q.minOffset, q.maxOffset, q.maxOffset - q.minOffset, formatTime(q.lastStoreTimestampMs)])));
      const total = description.queues.reduce((sum, q) => sum + q.maxOffset - q.minOffset, 0);
      printLine(`\n${description.queues.length} queues, ${total} messages stored`);
    });

  topic
    .command('delete')
    .description('delete a topic on every master that has it (its stored messages become unreachable)')
    .argument('<name>', 'topic name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const result = await withAdmin(cmd, (admin) => admin.deleteTopic(name));
      if (globalOptions(cmd).json) return printJson(result);
      printLine(`Deleted topic ${result.topic} on ${result.brokers.join(', ')}`);
    });
}
