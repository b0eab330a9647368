// `conveyor cluster up|status|stop|start|down`: the local launcher's command line. Thin: options
// are read here, the work is LocalCluster's, the wording is format.ts's. Errors are thrown as
// ConveyorError for the CLI's one error printer (one line on stderr, non-zero exit).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { DEFAULT_CLUSTER_DIR, LOG_LEVELS } from './layout.js';
import { LocalCluster, type LauncherEvent, type StopResult } from './local-cluster.js';
import { formatEndpoints, formatSeconds, formatStatusTable, formatStopResult, nextSteps } from './format.js';
import { parseStopSignal, pidState, STOP_SIGNALS } from './process-control.js';
import { requireState } from './state-file.js';

/** How often a foreground launcher checks whether `cluster down` ran from another shell. */
const FOREGROUND_POLL_MS = 1_000;

type Options = Record<string, unknown>;

/**
 * This command's own value of an option. A parent command (the CLI's root) may declare an option
 * of the same name (e.g. --nameservers as an address list, --json) and then commander hands it the
 * value typed after `cluster up`; a parent's value counts only when it was typed on the command line,
 * never when it came from its default or the environment.
 */
function option(cmd: Command, key: string): unknown {
  const own: unknown = cmd.opts()[key];
  if (own !== undefined) return own;
  for (let parent = cmd.parent; parent !== null; parent = parent.parent) {
    if (parent.getOptionValueSource(key) === 'cli') return parent.opts()[key];
  }
  return undefined;
}

function stringOption(cmd: Command, key: string): string | undefined {
  const value = option(cmd, key);
  return value === undefined ? undefined : String(value);
}

function dirOf(cmd: Command): string {
  return resolve(stringOption(cmd, 'dir') ?? DEFAULT_CLUSTER_DIR);
}

function jsonOf(cmd: Command): boolean {
  return option(cmd, 'json') === true;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function up(cmd: Command): Promise<void> {
  const json = jsonOf(cmd);
  const detach = option(cmd, 'detach') === true;
  // Progress goes to stderr under --json, so stdout stays one JSON document.
  const progress = (text: string): void => void (json ? process.stderr : process.stdout).write(`${text}\n`);
  const onEvent = (event: LauncherEvent): void => {
    switch (event.kind) {
      case 'spawned':
        return progress(`starting ${event.name} (pid ${event.pid})`);
      case 'ready':
        return progress(`${event.name} ready (${formatSeconds(event.elapsedMs)})`);
    }
  };
  const readyTimeout = stringOption(cmd, 'readyTimeoutMs');
  if (readyTimeout !== undefined && !/^\d+$/.test(readyTimeout)) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `invalid --ready-timeout-ms '${readyTimeout}': expected a whole number of milliseconds`, { value: readyTimeout });
  }
  const cluster = await LocalCluster.start({
    dir: dirOf(cmd),
    nameservers: stringOption(cmd, 'nameservers'),
    groups: stringOption(cmd, 'groups'),
    slaves: stringOption(cmd, 'slaves'),
    basePort: stringOption(cmd, 'basePort'),
    clusterName: stringOption(cmd, 'clusterName'),
    flush: stringOption(cmd, 'flush'),
    replication: stringOption(cmd, 'replication'),
    logLevel: stringOption(cmd, 'logLevel'),
    autoCreateTopics: option(cmd, 'autoCreateTopics') !== false,
    fastHeartbeats: option(cmd, 'fastHeartbeats') === true,
    brokerExpiryMs: stringOption(cmd, 'brokerExpiryMs'),
    registerIntervalMs: stringOption(cmd, 'registerIntervalMs'),
    brokerArgs: cmd.opts<Options>()['brokerArg'] as string[] | undefined,
    nameserverArgs: cmd.opts<Options>()['nameserverArg'] as string[] | undefined,
    readyTimeoutMs: readyTimeout === undefined ? undefined : Number(readyTimeout),
    foreground: !detach,
    onEvent,
  });
  const endpoints = cluster.endpoints();
  const processes = await cluster.status();
  if (json) print(JSON.stringify({ ...endpoints, detached: detach, processes }, null, 2));
  else {
    print(`\n${formatEndpoints(endpoints, processes)}\n\n${nextSteps(endpoints, process.cwd())}`);
    print(detach ? '\nThe processes run in the background.' : '\nRunning in the foreground: Ctrl-C stops every process.');
  }
  if (!detach) await runForeground(cluster);
}

/** Waits for Ctrl-C / SIGTERM (then stops everything) or for `cluster down` from elsewhere. */
async function runForeground(cluster: LocalCluster): Promise<void> {
  await new Promise<void>((done) => {
    let stopping = false;
    const poll = setInterval(() => {
      if (stopping) return;
      const state = requireState(cluster.dir);
      const anyLive = state.processes.some((p) => pidState(p.pid, state.bin) !== 'gone');
      if (state.launcherPid !== process.pid || !anyLive) {
        clearInterval(poll);
        print(state.launcherPid !== process.pid ? 'The cluster was taken down from elsewhere (cluster down); exiting.' : 'Every process has exited; exiting.');
        done();
      }
    }, FOREGROUND_POLL_MS);
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        print(`${signal} again: killing every process now`);
        void Promise.all(cluster.processNames().map((name) => cluster.stop(name, 'KILL').catch(() => undefined))).then(() => process.exit(130));
        return;
      }
      stopping = true;
      clearInterval(poll);
      print(`\n${signal}: stopping every process (again to kill at once)`);
      cluster.down().then(
        (results) => {
          for (const r of results) print(formatStopResult(r, 'TERM'));
          print('Cluster stopped; data and logs are kept.');
          done();
        },
        (err: unknown) => {
          process.stderr.write(`error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = 1;
          done();
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function status(cmd: Command): Promise<void> {
  const cluster = LocalCluster.open(dirOf(cmd));
  const processes = await cluster.status();
  if (jsonOf(cmd)) print(JSON.stringify({ dir: cluster.dir, clusterName: cluster.options.clusterName, processes }, null, 2));
  else print(formatStatusTable(processes));
}

async function stop(name: string, cmd: Command): Promise<void> {
  const signal = parseStopSignal(stringOption(cmd, 'signal') ?? 'TERM');
  const result = await LocalCluster.open(dirOf(cmd)).stop(name, signal);
  print(jsonOf(cmd) ? JSON.stringify({ ...result, signal }) : formatStopResult(result, signal));
}

async function start(name: string, cmd: Command): Promise<void> {
  const began = Date.now();
  const pid = await LocalCluster.open(dirOf(cmd)).start(name);
  print(jsonOf(cmd) ? JSON.stringify({ name, pid }) : `${name} started (pid ${pid}), ready in ${formatSeconds(Date.now() - began)}`);
}

async function down(cmd: Command): Promise<void> {
  const cluster = LocalCluster.open(dirOf(cmd));
  const results: StopResult[] = await cluster.down();
  const stopped = results.filter((r) => r.outcome !== 'not running').length;
  if (jsonOf(cmd)) {
    print(JSON.stringify({ dir: cluster.dir, processes: results }, null, 2));
    return;
  }
  for (const r of results) print(formatStopResult(r, 'TERM'));
  print(`Cluster down: ${stopped} of ${results.length} processes were running and are stopped; data and logs are kept in ${cluster.dir}`);
}

/** Adds `cluster up|status|stop|start|down` to the `conveyor` program. */
export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('run a whole cluster on this machine, one OS process per nameserver and broker');
  const dirHelp = `cluster directory: state file, data/<name>, logs/<name>.log (default ${DEFAULT_CLUSTER_DIR})`;

  cluster
    .command('up')
    .description('start every process, wait until all are ready and print the endpoints (foreground unless --detach)')
    .option('--dir <dir>', dirHelp)
    .option('--nameservers <n>', 'number of nameservers (default 1)')
    .option('--groups <m>', 'number of broker groups broker-a, broker-b, … (default 2)')
    .option('--slaves <s>', 'slaves per broker group (default 1)')
    .option('--base-port <port>', 'first port of the layout: nameservers at P+i, brokers from P+1035 (default 9876)')
    .option('--flush <mode>', 'broker flush: async or sync (default async)')
    .option('--replication <mode>', 'replication: async or sync (default async)')
    .option('--cluster-name <name>', 'cluster name the brokers register under (default DefaultCluster)')
    .option('--no-auto-create-topics', 'brokers refuse sends to unknown topics (on by default in a local cluster)')
    .option('--log-level <level>', `processes' log level: ${LOG_LEVELS.join(', ')} (default info)`)
    .option('--fast-heartbeats', 'brokers register every 1 s and nameservers expire them after 3 s (for failover tests)')
    .option('--broker-expiry-ms <ms>', 'nameserver: drop a broker after this long without a heartbeat')
    .option('--register-interval-ms <ms>', 'broker: heartbeat to every nameserver at this interval')
    .option('--broker-arg <arg>', 'extra argument for every broker, verbatim (repeatable; e.g. --broker-arg=--segment-bytes=1048576)', collect, [])
    .option('--nameserver-arg <arg>', 'extra argument for every nameserver, verbatim (repeatable)', collect, [])
    .option('--ready-timeout-ms <ms>', 'how long each process may take to become ready (default 60000)')
    .option('--detach', 'return once every process is ready; they keep running in the background')
    .option('--json', 'print the endpoints as JSON')
    .action(async (_opts: Options, cmd: Command) => up(cmd));

  cluster
    .command('status')
    .description('each process with role, broker name and id, ports, pid, alive, replication lag')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print as JSON')
    .action(async (_opts: Options, cmd: Command) => status(cmd));

  cluster
    .command('stop')
    .description('send one process a signal: TERM (default) and KILL wait for the exit, STOP/CONT pause and resume it')
    .argument('<name>', 'process name, e.g. broker-a-0 or nameserver-0')
    .option('--signal <signal>', `one of ${STOP_SIGNALS.join(', ')} (default TERM)`)
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (name: string, _opts: Options, cmd: Command) => stop(name, cmd));

  cluster
    .command('start')
    .description('start one stopped process again with its same settings and data; waits until ready')
    .argument('<name>', 'process name, e.g. broker-a-0')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (name: string, _opts: Options, cmd: Command) => start(name, cmd));

  cluster
    .command('down')
    .description('stop every process (SIGTERM, SIGKILL after 25 s); data and logs are kept')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (_opts: Options, cmd: Command) => down(cmd));
}
