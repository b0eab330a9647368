// The `conveyor` command line (everything but `nameserver` and `broker`, which bin/conveyor.js
// hands to their own process entries). Global options: --nameservers (or CONVEYOR_NAMESERVERS,
// default 127.0.0.1:9876), --json, --log-level. Exit codes: 0 done; 1 an operating error
// (ConveyorError: one line `error: CODE: message` on stderr); 2 a usage error (commander's message).
import { Command, CommanderError, Option } from 'commander';
import { ConveyorError, ErrorCode, errorCodeName } from '../common/errors.js';
import { NAMESERVERS_DEFAULT } from '../client/routing/discovery.js';
import { registerBenchCommands } from '../tools/bench/command.js';
import { registerClusterCommands } from '../deploy/local/command.js';
import { registerConsumeCommand } from './consume.js';
import { registerGroupCommands } from './group.js';
import { registerMessageCommands } from './message.js';
import { registerSendCommand } from './send.js';
import { LOG_LEVELS } from './shared.js';
import { registerTopicCommands } from './topic.js';

const EXIT_OK = 0;
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
/** After the command is done, a lingering handle may keep the process this long before it exits anyway. */
const EXIT_GRACE_MS = 2_000;
/** Root options a subcommand may declare too (e.g. `cluster up --nameservers 3`, `bench produce --json`). */
const SHARED_OPTION_NAMES = ['nameservers', 'json', 'logLevel'] as const;

export function buildProgram(): Command {
  const program = new Command('conveyor')
    .description('Conveyor: a distributed, replicated log broker. Start processes, manage topics and groups, send and consume.')
    .addOption(new Option('--nameservers <list>', 'nameserver addresses host:port[,host:port…] or a DNS name:port').env('CONVEYOR_NAMESERVERS').default(NAMESERVERS_DEFAULT))
    .option('--json', 'machine-readable output')
    .addOption(new Option('--log-level <level>', 'client log level (logs go to stderr)').choices([...LOG_LEVELS]))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  program.command('nameserver').description('run a nameserver process (see `conveyor nameserver --help`)').allowUnknownOption().helpOption(false);
  program.command('broker').description('run a broker process (see `conveyor broker --help`)').allowUnknownOption().helpOption(false);
  registerClusterCommands(program);
  registerTopicCommands(program);
  registerSendCommand(program);
  registerConsumeCommand(program);
  registerGroupCommands(program);
  registerMessageCommands(program);
  registerBenchCommands(program);

  // Root options are recognised anywhere on the line, so a subcommand that declares an option of
  // the same name (cluster up --nameservers N, bench … --json) would not see its value: hand it on.
  program.hook('preAction', (_root, action) => {
    for (const name of SHARED_OPTION_NAMES) {
      const declared = action.options.some((o) => o.attributeName() === name);
      if (action !== program && declared && action.getOptionValue(name) === undefined && program.getOptionValueSource(name) === 'cli') {
        action.setOptionValueWithSource(name, program.getOptionValue(name), 'cli');
      }
    }
  });
  // Every command, including groups, fails with usage help instead of doing nothing.
  for (const command of program.commands) command.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}

/** One line for stderr: `error: CODE: message`, line breaks folded. */
export function errorLine(err: unknown): string {
  const e = err instanceof ConveyorError ? err : new ConveyorError(ErrorCode.INTERNAL, err instanceof Error ? err.message : String(err));
  return `error: ${errorCodeName(e.code)}: ${e.message.replace(/\s*\n\s*/g, ' ')}`;
}

async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end "with an error" (exit code 0) in commander's terms; they are not
      // failures. Anything else (unknown option, bad value, a group without its subcommand) is usage.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    process.stderr.write(`${errorLine(err)}\n`);
    return EXIT_ERROR;
  }
}

export async function main(argv: string[]): Promise<void> {
  // `conveyor consume … | head`: the reader went away, which ends the command like a Ctrl-C
  // would, not with an unhandled EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const code = await runCli(argv);
  process.exitCode = code;
  // A channel or timer left behind must not keep a finished command alive.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}
