// The store under a tiny open-file budget: 200 queues written, read, flushed and recovered through
// 16 handles, the process's descriptors sampled all along (docs/storage.md "Open files").
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, vi } from 'vitest';
import { parseOpenFilesLimit } from '../../../../broker/store/open-files-budget.js';
import type { MessageStore } from '../../../../broker/store/index.js';
import { decodeRecord } from '../../../../common/record.js';
import { ABORT_MARKER_FILE, CHECKPOINT_FILE, consumeQueueRootDir } from '../../../../broker/store/layout.js';
import { captureLog, messages, test } from './helpers.js';

const BUDGET = 16;
const TOPICS = 40;
const QUEUES_PER_TOPIC = 5;
const ROUNDS = 3;
const PER_ROUND = 3;
/** Descriptors of LevelDB (a small database: log, manifest, lock, a few tables) and short-lived opens (checkpoint, directory fsyncs). */
const OTHER_DESCRIPTORS_MAX = 24;

interface FdSample {
  total: number;
  storeFiles: number;
}

function sampleFds(dataDir: string): FdSample {
  let total = 0;
  let storeFiles = 0;
  const commitLog = path.join(dataDir, 'commitlog') + path.sep;
  const consumeQueues = consumeQueueRootDir(dataDir) + path.sep;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the readdir's own descriptor)
    }
    total++;
    // Segment and consume-queue files (20-digit names), not the directories recovery lists.
    if ((target.startsWith(commitLog) || target.startsWith(consumeQueues)) && /\/\d{20}$/.test(target)) storeFiles++;
  }
  return { total, storeFiles };
}

/** Samples every millisecond while the workload runs, and on demand. */
class FdWatch {
  readonly baseline: number;
  maxTotal = 0;
  maxStoreFiles = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly dataDir: string) {
    this.baseline = sampleFds(dataDir).total;
    this.timer = setInterval(() => this.sample(), 5);
  }

  sample(): void {
    const { total, storeFiles } = sampleFds(this.dataDir);
    this.samples++;
    this.maxTotal = Math.max(this.maxTotal, total);
    this.maxStoreFiles = Math.max(this.maxStoreFiles, storeFiles);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const queues = Array.from({ length: TOPICS * QUEUES_PER_TOPIC }, (_, i) => ({ topic: `t${String(Math.floor(i / QUEUES_PER_TOPIC)).padStart(3, '0')}`, queueId: i % QUEUES_PER_TOPIC }));
const idOf = (topic: string, queueId: number, n: number): string => `${topic}-${queueId}-${n}`;

async function appendRound(store: MessageStore, round: number, watch: FdWatch): Promise<void> {
  await Promise.all(
    queues.map(({ topic, queueId }) =>
      store.append(
        topic,
        queueId,
        messages(`x`, PER_ROUND).map((m, i) => ({ ...m, messageId: idOf(topic, queueId, round * PER_ROUND + i) })),
      ),
    ),
  );
  watch.sample();
  await store.flush();
  watch.sample();
}

/** Reads every queue from offset 0 (all at once) and checks every id in order. */
async function readAll(store: MessageStore, expectedPerQueue: number, watch: FdWatch): Promise<void> {
  await Promise.all(
    queues.map(async ({ topic, queueId }) => {
      const result = await store.read(topic, queueId, 0, { maxCount: 1_000, maxBytes: 1 << 20 });
      watch.sample();
      expect(result.count).toBe(expectedPerQueue);
      const ids: string[] = [];
      let at = 0;
      while (at < result.records.length) {
        const record = decodeRecord(result.records, at);
        ids.push(record.messageId);
        at += record.size;
      }
      expect(ids).toEqual(Array.from({ length: expectedPerQueue }, (_, n) => idOf(topic, queueId, n)));
    }),
  );
}

describe('the store under a small open-file budget', () => {
  let watch: FdWatch | undefined;
  afterEach(() => watch?.stop());

  test('writes, reads and recovers 200 queues through 16 handles, never holding more', async ({ dataDir, openStore }) => {
    const options = { openFilesMax: BUDGET, segmentBytes: 16 * 1024, consumeQueueEntriesPerFile: 4 };
    watch = new FdWatch(dataDir);
    const store = await openStore(options);
    for (let round = 0; round < ROUNDS; round++) await appendRound(store, round, watch);
    await readAll(store, ROUNDS * PER_ROUND, watch);
    const stats = store.stats().openFiles;
    expect(stats.budget).toBe(BUDGET);
    expect(stats.open).toBeLessThanOrEqual(BUDGET);
    expect(stats.evictions).toBeGreaterThan(queues.length);
    await store.close();

    // Clean restart: queues are found by name and size, then read through the cache.
    const reopened = await openStore(options);
    expect(reopened.recovery.clean).toBe(true);
    await readAll(reopened, ROUNDS * PER_ROUND, watch);
    await appendRound(reopened, ROUNDS, watch);
    await reopened.close();

    // Unclean restart with every consume queue gone: recovery rebuilds all 200 from the log.
    await rm(consumeQueueRootDir(dataDir), { recursive: true, force: true });
    await rm(path.join(dataDir, CHECKPOINT_FILE), { force: true });
    await writeFile(path.join(dataDir, ABORT_MARKER_FILE), '');
    const recovered = await openStore(options);
    expect(recovered.recovery.clean).toBe(false);
    expect(recovered.recovery.rebuiltRecords).toBe(queues.length * (ROUNDS + 1) * PER_ROUND);
    await recovered.flush();
    await readAll(recovered, (ROUNDS + 1) * PER_ROUND, watch);
    await recovered.close();

    watch.stop();
    expect(watch.samples).toBeGreaterThan(100);
    expect(watch.maxStoreFiles).toBeLessThanOrEqual(BUDGET);
    expect(watch.maxTotal - watch.baseline).toBeLessThanOrEqual(BUDGET + OTHER_DESCRIPTORS_MAX);
  });
});

/** Sets this process's soft open-files limit (prlimit; the hard limit stays). */
function setSoftOpenFilesLimit(soft: number): void {
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:`]);
}

describe('the store when sockets took every descriptor', () => {
  test('postpones its flush without failing, and resumes once descriptors are free again', async ({ dataDir, openStore }) => {
    const { logger, lines } = await captureLog();
    const store = await openStore({ openFilesMax: BUDGET, flushIntervalMs: 20, log: logger });
    await store.append('busy', 0, messages('before', 5));
    const original = parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
    expect(original).toBeDefined();
    const hogs: number[] = [];
    try {
      setSoftOpenFilesLimit(sampleFds(dataDir).total + 64);
      for (let i = 0; i < 256; i++) {
        try {
          hogs.push(openSync('/dev/null', 'r')); // what a flood of connections would do
        } catch {
          break; // EMFILE: nothing left
        }
      }
      await store.append('busy', 1, messages('during', 5)); // dispatched in memory: no new descriptor needed
      await vi.waitFor(() => expect(lines.some((l) => l.msg === 'store task postponed: no file descriptor left')).toBe(true), { timeout: 5_000, interval: 20 });
    } finally {
      for (const fd of hogs) closeSync(fd);
      setSoftOpenFilesLimit(original!);
    }
    expect(hogs.length).toBeLessThan(256);
    await vi.waitFor(() => expect(lines.some((l) => l.msg === 'store task resumed: file descriptors available again')).toBe(true), { timeout: 5_000, interval: 20 });
    expect(lines.filter((l) => l.msg === 'store task postponed: no file descriptor left')).toHaveLength(1);
    await store.append('busy', 2, messages('after', 5));
    await store.flush();
    for (const queueId of [0, 1, 2]) expect((await store.read('busy', queueId, 0, { maxCount: 10, maxBytes: 1 << 20 })).count).toBe(5);
  });
});
