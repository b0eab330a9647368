// One chaos run, start to end: a local cluster of real processes (2 nameservers, 2 broker groups
// of a master and a slave, fast heartbeats) with a TCP proxy in front of every broker, the
// workload, the seeded fault schedule, the drain, and the report. Used by `npm run chaos`
// (run.ts) and by the short run inside `npm test` (chaos-short.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '../../client/index.js';
import { brokerPorts, groupName, pickFreeBasePort, resolveClusterOptions, startLocalCluster, type LocalCluster } from '../../deploy/local/index.js';
import { silentLogger, type Logger } from '../../common/logging.js';
import { checkLinkCut, healEverything, runFault, seconds, type FaultTools } from './faults.js';
import { Ledger, type QueueRange } from './ledger.js';
import { faultRecoveries, type ExecutedFault } from './recovery.js';
import { checksFor, formatReport, summarizeByKind, type ChaosReport, type ChaosSettings } from './report.js';
import { planFaults, type FaultKind } from './schedule.js';
import { TcpProxy } from './tcp-proxy.js';
import { Workload } from './workload.js';

/** Brokers advertise this loopback address; the proxies listen on it and forward to 127.0.0.1. */
export const ADVERTISED_HOST = '127.0.0.2';
export const LISTEN_HOST = '127.0.0.1';
const TOPIC = 'chaos';
const GROUP = 'chaos-group';
const GROUPS = 2;
const NAMESERVERS = 2;
/** After the producers stop, consumers get this long to deliver everything stored. */
export const DRAIN_TIMEOUT_MS_DEFAULT = 60_000;
const DRAIN_POLL_MS = 250;
/** After the drain, late duplicates (a queue handed over twice) still get this long to show. */
const SETTLE_MS = 2_000;
/** How long the consumers get at start to agree on a disjoint, covering assignment. */
const ASSIGNMENT_WAIT_MS = 20_000;
/** A progress line every this often. */
const PROGRESS_INTERVAL_MS = 10_000;

export interface ChaosOptions {
  seed: string;
  durationS: number;
  killEveryS: number;
  replication: 'sync' | 'async';
  producers?: number;
  ratePerProducer?: number;
  consumers?: number;
  queuesPerGroup?: number;
  /** Fault kinds and their weight in the bag (default FAULT_WEIGHTS_DEFAULT). */
  weights?: Partial<Record<FaultKind, number>>;
  drainTimeoutMs?: number;
  /** Cluster directory (data and logs); default a new temp dir, removed after a passed run unless keep. */
  dir?: string;
  keep?: boolean;
  /** Where the JSON report goes (default <dir>/chaos-report.json; a temp dir is removed only when this is given). */
  reportFile?: string;
  log?: Logger;
  print?: (line: string) => void;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const settings: ChaosSettings = {
    seed: options.seed,
    durationS: options.durationS,
    killEveryS: options.killEveryS,
    replication: options.replication,
    // Sync replication already has two processes holding every OK-acknowledged message, and a
    // kill -9 never loses the page cache: async flush keeps the run fast (docs/chaos.md).
    flush: 'async',
    producers: options.producers ?? 3,
    ratePerProducer: options.ratePerProducer ?? 200,
    consumers: options.consumers ?? 3,
    queuesPerGroup: options.queuesPerGroup ?? 4,
  };
  print(`chaos seed ${settings.seed} (replay with --seed ${settings.seed})`);
  const groups = Array.from({ length: GROUPS }, (_, g) => groupName(g));
  const schedule = planFaults({ seed: settings.seed, durationMs: settings.durationS * 1000, everyMs: settings.killEveryS * 1000, topology: { groups, nameservers: NAMESERVERS }, weights: options.weights });
  print(`schedule: ${schedule.map((f) => `${seconds(f.atMs)} ${f.kind} ${f.target} (${seconds(f.healAfterMs)})`).join('; ') || 'no faults'}`);

  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `conveyor-chaos-${settings.seed}-`));
  const reportFile = options.reportFile ?? join(dir, 'chaos-report.json');
  const log = options.log ?? silentLogger();
  const layout = {
    dir,
    nameservers: NAMESERVERS,
    groups: GROUPS,
    slaves: 1,
    replication: settings.replication,
    flush: settings.flush,
    fastHeartbeats: true,
    autoCreateTopics: false,
    // Every broker advertises the proxy address: clients and slaves reach it through the proxy.
    brokerArgs: ['--advertised-host', ADVERTISED_HOST],
  };
  const { basePort: _unused, ...resolved } = resolveClusterOptions(layout);
  const basePort = await pickFreeBasePort(resolved);
  const proxies = new Map<string, TcpProxy>();
  for (let g = 0; g < GROUPS; g++) {
    for (let id = 0; id <= 1; id++) {
      const { port } = brokerPorts(basePort, g, id);
      const proxy = new TcpProxy(`${groupName(g)}-${id}`, { host: ADVERTISED_HOST, port }, { host: LISTEN_HOST, port });
      await proxy.start();
      proxies.set(proxy.name, proxy);
    }
  }
  let cluster: LocalCluster | undefined;
  let workload: Workload | undefined;
  let admin: Admin | undefined;
  let passed = false;
  const notes: string[] = [];
  try {
    print(`starting the cluster in ${dir} (base port ${basePort})`);
    cluster = await startLocalCluster({ ...layout, basePort });
    const nameservers = cluster.nameserverAddresses();
    admin = new Admin({ nameservers });
    await admin.start();
    const created = await admin.createTopic(TOPIC, { queues: settings.queuesPerGroup });
    if (!created.routed) throw new Error(`topic ${TOPIC} did not reach the routes`);
    const linkCutUnavailable = await checkLinkCut(cluster, proxies, groups);
    if (linkCutUnavailable !== undefined) {
      notes.push(`cut-replication faults skipped: ${linkCutUnavailable}`);
      print(`note: cut-replication faults will be skipped: ${linkCutUnavailable}`);
    }

    const ledger = new Ledger();
    const startedAt = new Date();
    let t0 = performance.now();
    const now = (): number => Math.round(performance.now() - t0);
    workload = new Workload({
      nameservers,
      topic: TOPIC,
      group: GROUP,
      producers: settings.producers,
      ratePerProducer: settings.ratePerProducer,
      consumers: settings.consumers,
      ledger,
      now,
      log,
      runTag: `s${settings.seed}`.replace(/[^A-Za-z0-9_-]/g, '_'),
    });
    await workload.startConsumers();
    if (!(await workload.awaitStableAssignment(GROUPS * settings.queuesPerGroup, ASSIGNMENT_WAIT_MS))) {
      notes.push(`the consumers' assignment was not stable within ${ASSIGNMENT_WAIT_MS / 1000} s at start: start-up overlap may add duplicates`);
    }
    t0 = performance.now();
    await workload.startProducers();
    const progress = setInterval(() => {
      const v = ledger.sends.length;
      print(`  ${seconds(now())}: sends ${v}, deliveries ${ledger.deliveries.length}, not yet delivered ${ledger.undeliveredStoredCount()}`);
    }, PROGRESS_INTERVAL_MS);

    const tools: FaultTools = { cluster, proxies, linkCutUnavailable, now, print };
    const executed: ExecutedFault[] = [];
    try {
      for (const fault of schedule) {
        const wait = fault.atMs - now();
        if (wait > 0) await delay(wait);
        const done = await runFault(tools, fault);
        executed.push(done);
        if (done.skipped === undefined) print(`fault ${fault.index}: healed at ${seconds(done.healedAtMs ?? now())}`);
      }
      const rest = settings.durationS * 1000 - now();
      if (rest > 0) await delay(rest);
    } finally {
      clearInterval(progress);
    }
    const healed = await healEverything(cluster, proxies);
    if (healed.length > 0) notes.push(`at the end: ${healed.join(', ')}`);
    await workload.stopProducers();
    const producingMs = now();
    print(`producers stopped at ${seconds(producingMs)}; draining`);

    const drainStarted = now();
    const drainTimeoutMs = options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS_DEFAULT;
    while (ledger.undeliveredStoredCount() > 0 && now() - drainStarted < drainTimeoutMs) await delay(DRAIN_POLL_MS);
    const drained = ledger.undeliveredStoredCount() === 0;
    const drainMs = now() - drainStarted;
    await delay(SETTLE_MS);
    const consumerStats = workload.consumerStats().map((s) => ({ handled: s.handled, pulledFromSlaves: s.pulledFromSlaves }));
    const finalRanges = await queueRanges(admin);

    const faults = faultRecoveries({
      faults: executed,
      sends: ledger.sends,
      producers: settings.producers,
      firstDeliveredAtMs: (id) => ledger.firstDeliveredAtMs(id),
      retrySamples: workload.retrySamples,
      endMs: producingMs,
    });
    const verdict = ledger.verdict(finalRanges);
    const byKind = summarizeByKind(faults);
    const checks = checksFor(verdict, byKind, drained);
    const report: ChaosReport = {
      settings,
      startedAt: startedAt.toISOString(),
      producingMs,
      drainMs,
      drained,
      schedule,
      faults,
      byKind,
      verdict,
      consumerStats,
      proxyConnectionsFrozen: [...proxies.values()].reduce((sum, p) => sum + p.frozenTotal, 0),
      notes,
      checks,
      passed: checks.every((c) => c.ok),
    };
    writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
    print(formatReport(report));
    print(`report written to ${reportFile}`);
    passed = report.passed;
    return report;
  } finally {
    await workload?.shutdown().catch(() => undefined);
    await admin?.shutdown().catch(() => undefined);
    await cluster?.down(5_000).catch(() => undefined);
    for (const proxy of proxies.values()) await proxy.close().catch(() => undefined);
    // A temp cluster directory goes once the run passed (its report lives elsewhere); a failed
    // run keeps it: the processes' logs are the first thing to read.
    if (options.dir === undefined && options.keep !== true && options.reportFile !== undefined && passed) rmSync(dir, { recursive: true, force: true });
    else print(`cluster data and logs kept in ${dir}`);
  }
}

async function queueRanges(admin: Admin): Promise<QueueRange[]> {
  const description = await admin.describeTopic(TOPIC);
  return description.queues.map((q) => ({ brokerName: q.brokerName, queueId: q.queueId, minOffset: q.minOffset, maxOffset: q.maxOffset }));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
