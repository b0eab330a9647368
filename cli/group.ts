// `conveyor group list|describe`.
import type { Command } from 'commander';
import { globalOptions, printJson, printLine, table, withAdmin } from './shared.js';

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('consumer groups: list them, show offsets and lag');

  group
    .command('list')
    .description('every consumer group a broker knows (configured, or with committed offsets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const groups = await withAdmin(cmd, (admin) => admin.listGroups());
      if (globalOptions(cmd).json) return printJson(groups);
      for (const name of groups) printLine(name);
    });

  group
    .command('describe')
    .description('per queue: committed offset, max offset and lag; and the live members')
    .argument('<group>', 'consumer group name')
    .option('--topic <topic>', 'only this topic')
    .action(async (name: string, opts: { topic?: string }, cmd: Command) => {
      const description = await withAdmin(cmd, (admin) => admin.describeGroup(name, { topic: opts.topic }));
      if (globalOptions(cmd).json) {
        return printJson({ ...description, queues: description.queues.map((q) => ({ ...q, committedOffset: q.committedOffset ?? null })) });
      }
      printLine(`Group ${description.group}: ${description.members.length} live member${description.members.length === 1 ? '' : 's'}, total lag ${description.totalLag}`);
      for (const member of description.members) printLine(`  member ${member}`);
      if (description.queues.length === 0) return printLine('No committed offsets.');
      printLine(
        table(
          ['TOPIC', 'BROKER', 'QUEUE', 'COMMITTED', 'MAX', 'LAG'],
          description.queues.map((q) => [q.topic, q.brokerName, q.queueId, q.committedOffset ?? '-', q.maxOffset, q.lag]),
        ),
      );
    });
}
