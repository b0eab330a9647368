// `npm run bench`: the standard benchmark suite of issue 6. Starts fresh local clusters (1
// nameserver, 1 broker group of master + slave) through the launcher's programmatic API, runs each
// case `--runs` times (default 3) as a `conveyor bench … --json` child process, and writes
// bench-results/<timestamp>.json and .md (machine line, then median and min–max per case against
// its target). Every case is bounded in time; clusters are torn down at the end, on failure and
// on Ctrl-C. Cases and their settings are documented in docs/performance.md.
//
//   npm run bench [-- --runs 3] [--quick] [--cases produce-batched,e2e-sync] [--soak-s 600] [--profile] [--bin path]
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONVEYOR_BIN, pickFreeBasePort, resolveClusterOptions, startLocalCluster, type LocalCluster, type ProcessStatus } from '../../deploy/local/index.js';
import type { BenchSummary } from './report.js';
import { summarizeProfile, type CpuProfile, type ProfileSummary } from './profile-summary.js';
import { measureGrpcBaseline, measureGrpcStreamBaseline } from './grpc-baseline.js';
import { caseResult, formatMarkdown, formatValue, median, parseRss, type CaseResult, type CaseTarget, type MachineLine, type RssKiB } from './suite-report.js';

/** A bench child gets its own run length plus this before it is killed (start-up, topic creation, drain). */
const BENCH_KILL_MARGIN_MS = 120_000;
/** Longest a cluster may take to start (three processes on a loaded 2-core machine). */
const CLUSTER_READY_TIMEOUT_MS = 90_000;
/** The soak samples the master's RSS this often. */
const RSS_SAMPLE_INTERVAL_MS = 5_000;
/** Before the consume runs, wait this long at most for the slave to copy the backlog. */
const CATCH_UP_WAIT_MS = 120_000;
/** Then this long, for the slave's last writes and index to settle. */
const CATCH_UP_SETTLE_MS = 3_000;
/** Before the cases of a cluster, wait this long at most for the slave to report replication. */
const REPLICATION_WAIT_MS = 30_000;
/** "Flat": RSS in the second half of the soak at most this much above its level after warm-up. */
const RSS_GROWTH_PERCENT_MAX = 10;
/** Frames listed per profile. */
const PROFILE_TOP_FRAMES = 12;
const PRELOAD = resolve('tools/bench/cpu-profile-preload.mjs');

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    cases: { type: 'string' },
    'soak-s': { type: 'string' },
    profile: { type: 'boolean', default: false },
    bin: { type: 'string', default: CONVEYOR_BIN },
    out: { type: 'string', default: 'bench-results' },
  },
});
const runs = Number(flags.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 9) throw new Error(`--runs must be 1 to 9, got ${flags.runs}`);
const quick = flags.quick === true;
const wanted = flags.cases === undefined ? null : new Set(flags.cases.split(','));
const settings = {
  produceDurationS: quick ? 5 : 15,
  e2eDurationS: quick ? 10 : 30,
  /** Sent at the rate before each e2e run's measured phase (a fresh bench process warms its JIT); reported apart. */
  e2eWarmupS: quick ? 2 : 5,
  backlogMessages: quick ? 100_000 : 500_000,
  soakS: Number(flags['soak-s'] ?? (quick ? 60 : 600)),
  soakRate: 1_000,
};
const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
const outDir = resolve(flags.out);
const workDir = join(outDir, `${stamp}-work`);
mkdirSync(workDir, { recursive: true });

const results: CaseResult[] = [];
const summaries: Record<string, BenchSummary[]> = {};
const profiles: Record<string, { broker?: ProfileSummary; client?: ProfileSummary }> = {};
const extraData: Record<string, unknown> = {};
const loadStart = loadavg()[0] ?? 0;
const pressureStart = cpuPressurePercent();

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

function selected(id: string): boolean {
  return wanted === null || wanted.has(id);
}

type Mode = { flush: 'async' | 'sync'; replication: 'async' | 'sync' };

let activeCluster: LocalCluster | undefined;
process.once('SIGINT', () => {
  log('interrupted: stopping the cluster');
  void (activeCluster?.down(5_000) ?? Promise.resolve()).finally(() => process.exit(130));
});

async function withCluster(name: string, mode: Mode, fn: (cluster: LocalCluster, nameservers: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `conveyor-bench-${name}-`));
  const base = resolveClusterOptions({ dir, groups: 1, slaves: 1, nameservers: 1 });
  const basePort = await pickFreeBasePort(base);
  const env: Record<string, string> = flags.profile ? { NODE_OPTIONS: `--import ${PRELOAD}`, CONVEYOR_CPU_PROFILE_DIR: join(workDir, 'profiles') } : {};
  log(`starting cluster '${name}' (flush ${mode.flush}, replication ${mode.replication}) in ${dir}, base port ${basePort}`);
  const cluster = await startLocalCluster({ dir, basePort, groups: 1, slaves: 1, nameservers: 1, flush: mode.flush, replication: mode.replication, logLevel: 'warn', env, readyTimeoutMs: CLUSTER_READY_TIMEOUT_MS });
  activeCluster = cluster;
  try {
    await waitForReplication(cluster);
    await fn(cluster, cluster.nameserverAddresses().join(','));
  } finally {
    log(`stopping cluster '${name}'`);
    await cluster.down().catch((err: unknown) => log(`cluster down failed: ${String(err)}`));
    activeCluster = undefined;
    // Logs are kept beside the results; the data (up to a few GiB) is not.
    for (const file of readdirSync(join(dir, 'logs'))) writeFileSync(join(workDir, `${name}-${file}`), readFileSync(join(dir, 'logs', file)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `replication.connectedSlaves` from a broker's /readyz body; 0 when it cannot be read. */
async function connectedSlaves(host: string, httpPort: number): Promise<number> {
  try {
    const response = await fetch(`http://${host}:${httpPort}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { replication?: { connectedSlaves?: unknown } };
    const n = body.replication?.connectedSlaves;
    return typeof n === 'number' ? n : 0;
  } catch {
    return 0;
  }
}

/** Asks `ready` every 500 ms until it is true or `waitMs` passed; whether it became true. */
async function pollCluster(cluster: LocalCluster, waitMs: number, ready: (processes: ProcessStatus[]) => Promise<boolean> | boolean): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (await ready(await cluster.status())) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/**
 * Polls the master's /readyz until it reports a connected slave (`replication.connectedSlaves`),
 * bounded. (A master reports a replication lag of 0 even with no slave, so the lag is no signal.)
 */
async function waitForReplication(cluster: LocalCluster): Promise<void> {
  const connected = await pollCluster(cluster, REPLICATION_WAIT_MS, async (processes) => {
    const master = processes.find((p) => p.role !== 'nameserver' && p.brokerId === 0 && p.alive);
    return master !== undefined && (await connectedSlaves(master.address.replace(/:\d+$/, ''), master.httpPort)) >= 1;
  });
  if (connected) return;
  log(`the master reported no connected slave within ${REPLICATION_WAIT_MS} ms; sync-replication cases may answer SLAVE_NOT_AVAILABLE`);
  extraData.replicationNotReported = true;
}

/**
 * Waits (bounded) until the slave reports no replication lag, then a little longer: a consume run
 * started right after a produce case shares the cores with the slave still copying the backlog
 * (4–5 s of lag after 500k messages), which showed as slave CPU per consumed message.
 */
async function waitForSlaveCaughtUp(cluster: LocalCluster): Promise<void> {
  const caughtUp = await pollCluster(cluster, CATCH_UP_WAIT_MS, (processes) => processes.find((p) => p.role === 'slave' && p.alive)?.replicationLagBytes === 0);
  if (caughtUp) {
    await new Promise((r) => setTimeout(r, CATCH_UP_SETTLE_MS));
    return;
  }
  log(`the slave still lagged after ${CATCH_UP_WAIT_MS} ms; consume runs share the cores with its catch-up`);
  extraData.slaveCatchUpTimedOut = true;
}

/** Runs `conveyor --nameservers … bench <args> --json` as a child process and returns its summary. */
async function bench(nameservers: string, args: string[], runMs: number, label: string, cpuProfileDir?: string): Promise<BenchSummary> {
  const bin = flags.bin;
  const nodeArgs = [
    ...(cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`]),
    bin,
    '--nameservers',
    nameservers,
    'bench',
    ...args,
    '--json',
  ];
  const logFd = openSync(join(workDir, `${label}.log`), 'a');
  try {
    const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', logFd] });
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), runMs + BENCH_KILL_MARGIN_MS);
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    clearTimeout(killer);
    const last = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`bench ${args.join(' ')} exited with ${String(code)}; see ${join(workDir, `${label}.log`)}`);
    return JSON.parse(last) as BenchSummary;
  } finally {
    closeSync(logFd);
  }
}

function pidOf(cluster: LocalCluster, name: string): number {
  const pid = cluster.process(name).pid;
  if (pid === null) throw new Error(`${name} is not running`);
  return pid;
}

/** Runs one case `runs` times; with --profile the first run is profiled (master broker and client). */
async function repeat(id: string, cluster: LocalCluster, nameservers: string, args: (run: number) => string[], runMs: number): Promise<BenchSummary[]> {
  const out: BenchSummary[] = [];
  for (let run = 0; run < runs; run++) {
    const profile = flags.profile && run === 0;
    const profileDir = join(workDir, 'profiles', id);
    const master = pidOf(cluster, 'broker-a-0');
    if (profile) process.kill(master, 'SIGUSR2');
    const slave = pidOf(cluster, 'broker-a-1');
    const pressure = cpuPressurePercent();
    log(`${id} run ${run + 1}/${runs} (CPU pressure ${pressure ?? '?'} %)`);
    const masterBefore = cpuMsOf(master);
    const slaveBefore = cpuMsOf(slave);
    try {
      const summary = await bench(nameservers, args(run), runMs, `${id}-${run + 1}`, profile ? join(profileDir, 'client') : undefined);
      summary.details.masterCpuMs = Math.round(cpuMsOf(master) - masterBefore);
      summary.details.slaveCpuMs = Math.round(cpuMsOf(slave) - slaveBefore);
      if (pressure !== null) summary.details.cpuPressurePercent = pressure;
      out.push(summary);
    } finally {
      if (profile) {
        process.kill(master, 'SIGUSR2');
        await new Promise((r) => setTimeout(r, 2_000));
        profiles[id] = { broker: newestProfile(join(workDir, 'profiles'), `broker-${master}-`), client: newestProfile(join(profileDir, 'client'), '') };
      }
    }
  }
  summaries[id] = out;
  return out;
}

function newestProfile(dir: string, prefix: string): ProfileSummary | undefined {
  try {
    const files = readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.cpuprofile'));
    const newest = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    return newest === undefined ? undefined : summarizeProfile(JSON.parse(readFileSync(newest, 'utf8')) as CpuProfile, PROFILE_TOP_FRAMES);
  } catch {
    return undefined;
  }
}

const msgs = (s: BenchSummary): number => s.msgsPerS;
const p99 = (s: readonly BenchSummary[]): string => `${median(s.map((x) => x.latency?.p99Ms ?? 0)).toFixed(2)} ms`;
const errorsOf = (s: readonly BenchSummary[]): string => {
  const total = s.reduce((n, x) => n + x.errors, 0);
  const kinds = [...new Set(s.flatMap((x) => Object.keys(x.errorsByKind)))].join(', ');
  return total === 0 ? '0' : `${total} (${kinds})`;
};
const SLAVE_ERRORS = ['SLAVE_NOT_AVAILABLE', 'SLAVE_TIMEOUT'];

/** A case whose runs all failed with slave errors is pending on replication, not a measured miss. */
function throughputCase(id: string, title: string, target: CaseTarget, s: BenchSummary[], note = ''): CaseResult {
  const slaveErrors = s.reduce((n, x) => n + SLAVE_ERRORS.reduce((m, k) => m + (x.errorsByKind[k] ?? 0), 0), 0);
  const pending = slaveErrors > 0 && s.every((x) => x.messages === 0);
  return caseResult({
    id,
    title,
    unit: 'msgs/s',
    target,
    values: pending ? [] : s.map(msgs),
    status: pending ? 'pending' : undefined,
    extra: { 'p99 send → ack': p99(s), errors: errorsOf(s), 'CPU µs/msg master/slave/client': cpuPerMessage(s) },
    note: pending ? `every send answered ${SLAVE_ERRORS.join('/')}: sync replication is not serving yet` : note,
  });
}

/**
 * Drops the page cache of every file under `dir` (fadvise DONTNEED through `dd iflag=nocache`).
 * The brokers keep running, so a file may vanish between the listing and its turn (LevelDB
 * rotates its logs and compacts tables): such a file is skipped.
 */
function evictPageCache(dir: string): void {
  const files = (readdirSync(dir, { recursive: true }) as string[]).map((f) => join(dir, f)).filter((f) => existsAsFile(f));
  execFileSync('sync');
  for (const file of files) {
    try {
      execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      if (existsAsFile(file)) throw err;
    }
  }
}

function existsAsFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat (fields 14 and 15). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** PSI: share of the last 60 s in which some task waited for a CPU (other work on the machine). */
function cpuPressurePercent(): number | null {
  try {
    const match = /some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

/** CPU µs per message of master, slave and client over a case's runs: `12 / 3 / 20`. */
function cpuPerMessage(s: readonly BenchSummary[]): string {
  const perMessage = (key: string): number => median(s.map((x) => ((x.details[key] ?? 0) * 1000) / Math.max(1, x.messages)));
  return `${perMessage('masterCpuMs').toFixed(0)} / ${perMessage('slaveCpuMs').toFixed(0)} / ${perMessage('clientCpuMs').toFixed(0)}`;
}

function rssKiB(pid: number): RssKiB {
  return parseRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

async function asyncClusterCases(cluster: LocalCluster, ns: string): Promise<void> {
  const runMs = settings.produceDurationS * 1000;
  if (selected('produce-batched')) {
    const s = await repeat('produce-batched', cluster, ns, () => ['produce', '--topic', 'bench-batched', '--batch', '128', '--in-flight', '16', '--duration-s', String(settings.produceDurationS)], runMs);
    results.push(throughputCase('produce-batched', 'produce, batched 128, async flush + async replication', { comparison: '>=', value: 150_000, text: '≥ 150,000 msgs/s' }, s, '1 producer, 16 batches in flight'));
  }
  if (selected('produce-unbatched')) {
    const s = await repeat('produce-unbatched', cluster, ns, () => ['produce', '--topic', 'bench-single', '--batch', '1', '--in-flight', '1000', '--duration-s', String(settings.produceDurationS)], runMs);
    results.push(throughputCase('produce-unbatched', 'produce, single sends, 1,000 in flight (async/async)', { comparison: '>=', value: 40_000, text: '≥ 40,000 msgs/s' }, s, '1 producer'));
  }
  if (selected('consume') || selected('consume-cold')) {
    log(`producing a backlog of ${settings.backlogMessages} messages`);
    const backlog = await bench(ns, ['produce', '--topic', 'bench-backlog', '--batch', '128', '--in-flight', '16', '--count', String(settings.backlogMessages), '--timeout-s', '600'], 600_000, 'backlog');
    extraData.backlog = backlog;
    const count = backlog.messages;
    const consumeArgs = (group: string): string[] => ['consume', '--topic', 'bench-backlog', '--group', group, '--count', String(count), '--timeout-s', '600'];
    await waitForSlaveCaughtUp(cluster);
    const fresh = await repeat('consume', cluster, ns, (run) => consumeArgs(`bench-fresh-${run}`), 600_000);
    results.push(
      caseResult({ id: 'consume', title: `consume a backlog of ${formatValue(count, '')} (page cache hot), one consumer`, unit: 'msgs/s', target: { comparison: '>=', value: 250_000, text: '≥ 250,000 msgs/s' }, values: fresh.map(msgs), extra: { 'time to first message': `${median(fresh.map((x) => x.details.timeToFirstMessageMs ?? 0))} ms`, 'CPU µs/msg master/slave/client': cpuPerMessage(fresh) } }),
    );
    if (selected('consume-cold')) {
      const freshMedian = median(fresh.map(msgs));
      const dataDirs = ['broker-a-0', 'broker-a-1'].map((n) => cluster.process(n).dataDir ?? '');
      const cold = await repeat('consume-cold', cluster, ns, (run) => {
        for (const dir of dataDirs) evictPageCache(dir);
        return consumeArgs(`bench-cold-${run}`);
      }, 600_000);
      results.push(
        caseResult({ id: 'consume-cold', title: 'consume the same backlog after evicting it from the page cache', unit: '% of hot', target: { comparison: '>=', value: 75, text: 'within 25 % of hot (≥ 75 %)' }, values: cold.map((x) => (100 * x.msgsPerS) / freshMedian), extra: { 'cold msgs/s': formatValue(median(cold.map(msgs)), '') }, note: 'the commit log and consume queues of both brokers are evicted with fadvise(DONTNEED) before each run' }),
      );
    }
  }
  if (selected('soak')) await soak(cluster, ns);
}

async function soak(cluster: LocalCluster, ns: string): Promise<void> {
  const master = pidOf(cluster, 'broker-a-0');
  // Anonymous and file-backed apart: the file part is mapped page cache (the binary, LevelDB's
  // memory-mapped tables, which grow with the message index), which the kernel can take back.
  const samples: Array<{ atS: number; rssMiB: number; anonMiB: number; fileMiB: number }> = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    const rss = rssKiB(master);
    samples.push({ atS: Math.round((Date.now() - started) / 1000), rssMiB: Math.round(rss.total / 1024), anonMiB: Math.round(rss.anon / 1024), fileMiB: Math.round(rss.file / 1024) });
  }, RSS_SAMPLE_INTERVAL_MS);
  log(`soak: e2e at ${settings.soakRate} msgs/s for ${settings.soakS} s, sampling the master's RSS`);
  let summary: BenchSummary;
  try {
    summary = await bench(ns, ['e2e', '--topic', 'bench-soak', '--rate', String(settings.soakRate), '--duration-s', String(settings.soakS)], settings.soakS * 1000, 'soak');
  } finally {
    clearInterval(sampler);
  }
  summaries.soak = [summary];
  extraData.soakRss = samples;
  // Warm-up: the first quarter. Growth: the highest sample of the second half over the level at the end of warm-up.
  const warmSample = samples.filter((s) => s.atS >= settings.soakS / 4)[0];
  const lateSamples = samples.filter((s) => s.atS >= settings.soakS / 2);
  const warm = warmSample?.rssMiB ?? 0;
  const late = Math.max(...lateSamples.map((s) => s.rssMiB), 0);
  const growth = warm > 0 ? (100 * (late - warm)) / warm : 0;
  const part = (key: 'anonMiB' | 'fileMiB'): string => `${warmSample?.[key] ?? 0} → ${Math.max(...lateSamples.map((s) => s[key]), 0)} MiB`;
  results.push(
    caseResult({
      id: 'soak',
      title: `broker RSS over a ${Math.round(settings.soakS / 60)}-minute produce+consume run at ${settings.soakRate} msgs/s`,
      unit: '% growth',
      target: { comparison: '<=', value: RSS_GROWTH_PERCENT_MAX, text: `flat (≤ ${RSS_GROWTH_PERCENT_MAX} % growth after warm-up)` },
      values: samples.length > 0 ? [growth] : [],
      extra: {
        'RSS after warm-up': `${warm} MiB`,
        'highest in 2nd half': `${late} MiB`,
        'of it anonymous (after warm-up → highest in 2nd half)': part('anonMiB'),
        'file-backed': part('fileMiB'),
        'e2e p99': `${summary.latency?.p99Ms ?? 0} ms`,
      },
      note: 'one run; samples every 5 s in the JSON',
    }),
  );
}

async function syncClusterCases(cluster: LocalCluster, ns: string): Promise<void> {
  if (!selected('produce-sync')) return;
  const s = await repeat('produce-sync', cluster, ns, () => ['produce', '--topic', 'bench-sync', '--batch', '1', '--in-flight', '256', '--duration-s', String(settings.produceDurationS)], settings.produceDurationS * 1000);
  results.push(throughputCase('produce-sync', 'produce, sync flush + sync replication, 256 in flight', { comparison: '>=', value: 40_000, text: '≥ 40,000 msgs/s' }, s, 'single sends, 1 producer'));
}

async function e2eCases(cluster: LocalCluster, ns: string): Promise<void> {
  if (!selected('e2e-sync')) return;
  const s = await repeat('e2e-sync', cluster, ns, (run) => ['e2e', '--topic', 'bench-e2e', '--group', `bench-e2e-${run}`, '--rate', '2000', '--warmup-s', String(settings.e2eWarmupS), '--duration-s', String(settings.e2eDurationS)], (settings.e2eWarmupS + settings.e2eDurationS) * 1000);
  const received = s.every((x) => x.messages > 0);
  results.push(
    caseResult({
      id: 'e2e-sync',
      title: 'end-to-end latency at 2,000 msgs/s, sync replication (async flush)',
      unit: 'ms',
      target: { comparison: '<=', value: 5, text: 'p99 ≤ 5 ms' },
      values: received ? s.map((x) => x.latency?.p99Ms ?? 0) : [],
      status: received ? undefined : 'failed',
      extra: { p50: `${median(s.map((x) => x.latency?.p50Ms ?? 0))} ms`, 'p99.9': `${median(s.map((x) => x.latency?.p999Ms ?? 0))} ms`, [`p99 in the ${settings.e2eWarmupS} s warm-up`]: `${median(s.map((x) => x.details.warmupP99Ms ?? 0))} ms`, errors: errorsOf(s), 'missed slots': String(s.reduce((n, x) => n + (x.details.missedSlots ?? 0), 0)), 'CPU µs/msg master/slave/client': cpuPerMessage(s) },
    }),
  );
}

async function main(): Promise<void> {
  log(`suite: ${runs} run(s) per case${quick ? ', quick' : ''}; results in ${outDir}`);
  if (selected('grpc-baseline')) {
    const values: number[] = [];
    const cpu: number[] = [];
    const streamValues: number[] = [];
    const streamCpu: number[] = [];
    for (let run = 0; run < runs; run++) {
      const baseline = await measureGrpcBaseline(quick ? 10_000 : 30_000);
      values.push(baseline.callsPerS);
      cpu.push(baseline.cpuMicrosPerCall);
      const stream = await measureGrpcStreamBaseline(quick ? 10_000 : 30_000);
      streamValues.push(stream.callsPerS);
      streamCpu.push(stream.cpuMicrosPerCall);
    }
    extraData.grpcBaseline = { callsPerS: values, cpuMicrosPerCall: cpu, streamRoundTripsPerS: streamValues, streamCpuMicrosPerRoundTrip: streamCpu };
    results.push(
      caseResult({ id: 'grpc-baseline', title: 'baseline: bare grpc-js unary calls, client and server in one process (no Conveyor code)', unit: 'calls/s', target: { comparison: 'none', value: 0, text: '(machine floor, no target)' }, values, extra: { 'CPU µs/call': median(cpu).toFixed(0) }, note: 'what one unary RPC per message can reach here at best' }),
      caseResult({ id: 'grpc-stream-baseline', title: 'baseline: bare grpc-js bidi stream, one request and one answer message per round trip (no Conveyor code)', unit: 'round trips/s', target: { comparison: 'none', value: 0, text: '(machine floor, no target)' }, values: streamValues, extra: { 'CPU µs/round trip': median(streamCpu).toFixed(0) }, note: 'what Conveyor\'s SendStream / PullStream transport can reach here at best' }),
    );
  }
  const guarded = async (name: string, mode: Mode, fn: (c: LocalCluster, ns: string) => Promise<void>): Promise<void> => {
    try {
      await withCluster(name, mode, fn);
    } catch (err) {
      log(`cluster '${name}' cases failed: ${err instanceof Error ? err.message : String(err)}`);
      extraData[`${name}Error`] = err instanceof Error ? err.message : String(err);
    }
  };
  if (['produce-batched', 'produce-unbatched', 'consume', 'consume-cold', 'soak'].some(selected)) await guarded('async', { flush: 'async', replication: 'async' }, asyncClusterCases);
  if (selected('produce-sync')) await guarded('sync', { flush: 'sync', replication: 'sync' }, syncClusterCases);
  if (selected('e2e-sync')) await guarded('e2e', { flush: 'async', replication: 'sync' }, e2eCases);

  const cpu = cpus();
  const machine: MachineLine = { cores: cpu.length, cpuModel: cpu[0]?.model.trim() ?? 'unknown', memoryGiB: totalmem() / 2 ** 30, node: process.version, loadStart, loadEnd: loadavg()[0] ?? 0, cpuPressureStart: pressureStart, cpuPressureEnd: cpuPressurePercent() };
  let markdown = formatMarkdown(machine, results, runs);
  for (const [id, p] of Object.entries(profiles)) {
    for (const [who, summary] of Object.entries(p)) {
      if (summary === undefined) continue;
      markdown += `\nProfile of ${who} during ${id} (busy ${summary.busyPercent} % of ${Math.round(summary.totalMs)} ms; top self time):\n\n`;
      markdown += summary.topSelf.map((f) => `- ${f.percent} % ${f.frame}`).join('\n') + '\n';
    }
  }
  writeFileSync(join(outDir, `${stamp}.json`), `${JSON.stringify({ startedAt: stamp, machine, freeMemoryGiB: freemem() / 2 ** 30, settings, runs, results, summaries, profiles, extra: extraData }, null, 2)}\n`);
  writeFileSync(join(outDir, `${stamp}.md`), markdown);
  process.stdout.write(`\n${markdown}\nWritten: ${join(outDir, `${stamp}.json`)} and .md (logs in ${workDir})\n`);
}

await main();
