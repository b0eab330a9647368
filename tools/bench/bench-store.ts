// Storage-engine benchmark (issue 3, docs/performance.md). Not a test: it prints numbers.
//   npm run bench:store                      async append, sync append (64 appenders), sequential read; 3 runs each, medians
//   npm run bench:store -- --runs 5
//   npm run bench:store -- --backlog         only the 10-million-record backlog (≈ 11 GB on disk, a few minutes),
//                                            in a fresh process so that RSS at its start means something
//   npm run bench:store -- --backlog --backlog-records 2000000
// Every run uses a fresh directory under the OS temp dir and removes it afterwards.
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { MessageStore, type StoreMessageInput } from '../../broker/store/index.js';

const BODY_BYTES = 1024;
const ASYNC_APPENDERS = 16;
const MB = 1_000_000;

interface Options {
  runs: number;
  backlog: boolean;
  backlogRecords: number;
}

const program = new Command()
  .option('--runs <n>', 'runs per case (median printed)', (v) => Number(v), 3)
  .option('--backlog', 'run only the 10-million-record backlog case', false)
  .option('--backlog-records <n>', 'records in the backlog case', (v) => Number(v), 10_000_000)
  .parse();
const options = program.opts<Options>();

function message(i: number, body: Buffer): StoreMessageInput {
  return { messageId: `bench-${i.toString(16).padStart(12, '0')}`, keys: [], tag: 'bench', properties: {}, body, bornTimestampMs: Date.now(), flags: 0 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function withStore<T>(flushMode: 'async' | 'sync', fn: (store: MessageStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'conveyor-bench-'));
  const store = await MessageStore.open({ dataDir: dir, flushMode, backgroundTimers: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Async flush: 16 appenders (producers' batches arriving on many connections), batches of 64
 * records of 1 KiB body, into 16 queues. The batches are
 * built before the clock starts (the broker gets them decoded from the wire; building them is not
 * the store's work).
 */
async function asyncAppend(records: number): Promise<{ mbPerSec: number; recordsPerSec: number; recordBytes: number; cpuMicrosPerRecord: number }> {
  return withStore('async', async (store) => {
    const body = Buffer.alloc(BODY_BYTES, 7);
    const batch = 64;
    const appenders = ASYNC_APPENDERS;
    const batches = Array.from({ length: Math.ceil(records / batch) }, (_, b) => Array.from({ length: batch }, (_, i) => message(b * batch + i, body)));
    let next = 0;
    let bytes = 0;
    let count = 0;
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: appenders }, async (_, queueId) => {
        while (next < batches.length) {
          const results = await store.append('bench', queueId, batches[next++]!);
          for (const r of results) bytes += r.size;
          count += results.length;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { mbPerSec: bytes / MB / seconds, recordsPerSec: count / seconds, recordBytes: bytes / count, cpuMicrosPerRecord: cpuMicros(cpuStart) / count };
  });
}

/** Sync flush: 64 appenders, each appending one 1 KiB record at a time, awaiting each. */
async function syncAppend(durationMs: number): Promise<{ recordsPerSec: number; fsyncsPerSec: number; recordsPerFsync: number; p50Ms: number; p99Ms: number; cpuMicrosPerRecord: number }> {
  return withStore('sync', async (store) => {
    const body = Buffer.alloc(BODY_BYTES, 7);
    let count = 0;
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const deadline = started + durationMs;
    await Promise.all(
      Array.from({ length: 64 }, async (_, appender) => {
        while (performance.now() < deadline) {
          await store.append('bench', appender % 8, [message(count, body)]);
          count++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const stats = store.stats();
    return {
      recordsPerSec: count / seconds,
      fsyncsPerSec: stats.fsyncCount / seconds,
      recordsPerFsync: stats.recordsPerFsync,
      p50Ms: stats.flushLatencyMs.p50,
      p99Ms: stats.flushLatencyMs.p99,
      cpuMicrosPerRecord: cpuMicros(cpuStart) / count,
    };
  });
}

/** Writes `records` into one queue, then reads them back in order, maxCount per read. */
async function sequentialRead(records: number, maxCount: number): Promise<{ recordsPerSec: number; mbPerSec: number }> {
  return withStore('async', async (store) => {
    const body = Buffer.alloc(BODY_BYTES, 7);
    for (let i = 0; i < records; i += 256) await store.append('bench', 0, Array.from({ length: Math.min(256, records - i) }, (_, j) => message(i + j, body)));
    let offset = 0;
    let bytes = 0;
    const started = performance.now();
    while (offset < records) {
      const result = await store.read('bench', 0, offset, { maxCount, maxBytes: 32 * 1024 * 1024 });
      offset = result.nextQueueOffset;
      bytes += result.records.length;
    }
    const seconds = (performance.now() - started) / 1000;
    return { recordsPerSec: records / seconds, mbPerSec: bytes / MB / seconds };
  });
}

/** CPU time of this process (all threads, user + system) since `start`, µs. */
function cpuMicros(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1024 / 1024);
}

/** RSS with the V8 heap and off-heap buffers, MiB. */
function memoryLine(): string {
  const m = process.memoryUsage();
  const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);
  return `RSS ${mib(m.rss)} MiB (heap used ${mib(m.heapUsed)}, heap total ${mib(m.heapTotal)}, buffers ${mib(m.arrayBuffers)})`;
}

/** Writes a backlog of `records` (async flush, batches of 256 into 8 queues), then reads every queue back. */
async function backlog(records: number): Promise<void> {
  await withStore('async', async (store) => {
    const body = Buffer.alloc(BODY_BYTES, 7);
    const queues = 8;
    const rssStart = rssMb();
    console.log(`backlog: ${records} records, at start ${memoryLine()}`);
    const started = performance.now();
    let next = 0;
    let lastReport = started;
    let rssMaxWrite = rssStart;
    await Promise.all(
      Array.from({ length: queues }, async (_, queueId) => {
        while (next < records) {
          const first = next;
          const n = Math.min(256, records - first);
          next += n;
          await store.append('backlog', queueId, Array.from({ length: n }, (_, i) => message(first + i, body)));
          if (performance.now() - lastReport > 5_000) {
            lastReport = performance.now();
            rssMaxWrite = Math.max(rssMaxWrite, rssMb());
            console.log(`  written ${next}, ${memoryLine()}, index backlog ${store.stats().indexPendingEntries}`);
          }
        }
      }),
    );
    await store.flush();
    const writeSeconds = (performance.now() - started) / 1000;
    const rssAfterWrite = rssMb();
    console.log(`backlog written: ${(records / writeSeconds).toFixed(0)} records/s, ${(store.maxPhysicalOffset / MB / writeSeconds).toFixed(0)} MB/s, RSS ${rssAfterWrite} MiB (max seen ${rssMaxWrite})`);
    const readStarted = performance.now();
    let read = 0;
    let rssMaxRead = rssAfterWrite;
    for (let queueId = 0; queueId < queues; queueId++) {
      let offset = 0;
      const { maxQueueOffset } = store.queueRange('backlog', queueId);
      while (offset < maxQueueOffset) {
        const result = await store.read('backlog', queueId, offset, { maxCount: 1024, maxBytes: 32 * 1024 * 1024 });
        offset = result.nextQueueOffset;
        read += result.count;
      }
      rssMaxRead = Math.max(rssMaxRead, rssMb());
    }
    const readSeconds = (performance.now() - readStarted) / 1000;
    console.log(`backlog read back: ${read} records, ${(read / readSeconds).toFixed(0)} records/s, at end ${memoryLine()} (max RSS seen ${rssMaxRead} MiB)`);
  });
}

function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  const disk = statfsSync(os.tmpdir());
  const freeGb = ((disk.bavail * disk.bsize) / 1e9).toFixed(0);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  return `machine: node ${process.version}, ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}, tmpdir ${os.tmpdir()} (${freeGb} GB free), load average ${load}`;
}

async function main(): Promise<void> {
  console.log(machineLine());
  console.log(`runs per case: ${options.runs}; records of ${BODY_BYTES}-byte bodies (≈1.1 KB stored); MB = 10^6 bytes`);
  if (options.backlog) {
    await backlog(options.backlogRecords);
    return;
  }

  const asyncRuns = [];
  for (let i = 0; i < options.runs; i++) asyncRuns.push(await asyncAppend(400_000));
  const recordBytes = asyncRuns[0]!.recordBytes;
  console.log(
    `async append (${ASYNC_APPENDERS} appenders × batches of 64): median ${median(asyncRuns.map((r) => r.mbPerSec)).toFixed(0)} MB/s, ${median(asyncRuns.map((r) => r.recordsPerSec)).toFixed(0)} records/s ` +
      `(runs: ${asyncRuns.map((r) => r.mbPerSec.toFixed(0)).join(', ')} MB/s; ${recordBytes.toFixed(0)} bytes/record; CPU ${median(asyncRuns.map((r) => r.cpuMicrosPerRecord)).toFixed(1)} µs/record)   target ≥ 300 MB/s`,
  );

  const syncRuns = [];
  for (let i = 0; i < options.runs; i++) syncRuns.push(await syncAppend(4_000));
  console.log(
    `sync append (64 appenders, 1 record each): median ${median(syncRuns.map((r) => r.recordsPerSec)).toFixed(0)} records/s, ` +
      `${median(syncRuns.map((r) => r.fsyncsPerSec)).toFixed(0)} fsyncs/s, ${median(syncRuns.map((r) => r.recordsPerFsync)).toFixed(1)} records/fsync, ` +
      `fsync p50 ${median(syncRuns.map((r) => r.p50Ms)).toFixed(2)} ms p99 ${median(syncRuns.map((r) => r.p99Ms)).toFixed(2)} ms ` +
      `(runs: ${syncRuns.map((r) => r.recordsPerSec.toFixed(0)).join(', ')} records/s; CPU ${median(syncRuns.map((r) => r.cpuMicrosPerRecord)).toFixed(1)} µs/record)   target ≥ 50,000 records/s`,
  );

  for (const maxCount of [1024, 32]) {
    const readRuns = [];
    for (let i = 0; i < options.runs; i++) readRuns.push(await sequentialRead(500_000, maxCount));
    console.log(
      `sequential read, one queue, maxCount ${maxCount}: median ${median(readRuns.map((r) => r.recordsPerSec)).toFixed(0)} records/s, ${median(readRuns.map((r) => r.mbPerSec)).toFixed(0)} MB/s ` +
        `(runs: ${readRuns.map((r) => r.recordsPerSec.toFixed(0)).join(', ')})   target ≥ 500,000 records/s`,
    );
  }
  console.log('backlog case not run (npm run bench:store -- --backlog)');
}

await main();
