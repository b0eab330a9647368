// A small real cluster for the client and CLI cluster tests: one nameserver and broker groups of a
// master (and optionally a slave), each its own OS process on ephemeral ports, with short
// registration intervals. Everything is stopped when the test file ends (test/helpers/processes.ts).
import { join } from 'node:path';
import { freePorts, freshShellEnv, runConveyor, spawnConveyor, tempDir, waitReady, type CliResult, type RunningProcess } from '../helpers/processes.js';

export type { CliResult } from '../helpers/processes.js';

export interface TestBroker {
  readonly name: string;
  readonly id: number;
  readonly port: number;
  readonly httpPort: number;
  readonly address: string;
  readonly dataDir: string;
  process: RunningProcess;
  /** SIGTERM, wait for the exit, start again on the same ports and data, wait until ready. */
  restart(): Promise<void>;
}

export interface TestCluster {
  /** `127.0.0.1:<port>` of the nameserver. */
  readonly nameservers: string;
  readonly brokers: readonly TestBroker[];
  readonly logDir: string;
  broker(name: string, id?: number): TestBroker;
}

export interface TestClusterOptions {
  /** Broker group names (default broker-a, broker-b). */
  groups?: string[];
  /** Groups that also get a slave (id 1). */
  slavesFor?: string[];
  autoCreateTopics?: boolean;
  /** Extra broker flags. */
  brokerArgs?: string[];
}

/** Brokers register every second, so new topics reach the routes quickly. */
const REGISTER_INTERVAL_MS = 1_000;

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const root = tempDir('conveyor-client-');
  const logDir = root;
  const [nsPort, nsHttpPort] = (await freePorts(2)) as [number, number];
  const nameserver = spawnConveyor({ name: 'nameserver', args: ['nameserver', '--port', String(nsPort), '--http-port', String(nsHttpPort)], logDir });
  await waitReady(nameserver, nsHttpPort, 60_000);
  const nameservers = `127.0.0.1:${nsPort}`;

  const specs: Array<{ name: string; id: number }> = [];
  for (const name of options.groups ?? ['broker-a', 'broker-b']) {
    specs.push({ name, id: 0 });
    if (options.slavesFor?.includes(name)) specs.push({ name, id: 1 });
  }
  const ports = await freePorts(specs.length * 2);
  const brokers = specs.map((spec, i): TestBroker => {
    const port = ports[2 * i] as number;
    const httpPort = ports[2 * i + 1] as number;
    const dataDir = join(root, `${spec.name}-${spec.id}`);
    const args = [
      'broker', '--cluster', 'TestCluster', '--name', spec.name, '--id', String(spec.id),
      '--port', String(port), '--http-port', String(httpPort), '--nameservers', nameservers, '--data', dataDir,
      '--auto-create-topics', String(options.autoCreateTopics ?? true), '--register-interval-ms', String(REGISTER_INTERVAL_MS),
      ...(options.brokerArgs ?? []),
    ];
    const launch = (): RunningProcess => spawnConveyor({ name: `${spec.name}-${spec.id}`, args, logDir });
    const broker: TestBroker = {
      ...spec,
      port,
      httpPort,
      address: `127.0.0.1:${port}`,
      dataDir,
      process: launch(),
      restart: async () => {
        await broker.process.stop(10_000);
        broker.process = launch();
        await waitReady(broker.process, httpPort, 60_000);
      },
    };
    return broker;
  });
  await Promise.all(brokers.map((b) => waitReady(b.process, b.httpPort, 60_000)));
  return {
    nameservers,
    brokers,
    logDir,
    broker: (name, id = 0) => {
      const found = brokers.find((b) => b.name === name && b.id === id);
      if (!found) throw new Error(`no test broker ${name}-${id}`);
      return found;
    },
  };
}


/** Runs `conveyor ...args` as a user would, with CONVEYOR_NAMESERVERS pointing at the cluster. */
export function runCli(cluster: TestCluster, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return runConveyor(args, { env: freshShellEnv({ CONVEYOR_NAMESERVERS: cluster.nameservers }), timeoutMs });
}
