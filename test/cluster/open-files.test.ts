// A broker with far more consume queues holding data than open files allowed (ulimit -n): it keeps
// serving, its store files stay within the handle budget it logs at start, it restarts after a
// SIGKILL (recovery goes through the same cache), and every message is consumable afterwards.
// The full size (5,000 topics × 8 queues under ulimit 4,096) is the same test with
// OPEN_FILES_TEST_TOPICS=5000 OPEN_FILES_TEST_LIMIT=4096 (docs/storage.md "Open files").
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Admin, Producer, PullConsumer, type MessageQueue } from '../../client/index.js';
import { planOpenFiles } from '../../broker/store/open-files-budget.js';
import { loopBound } from '../helpers/loop-bound.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const TOPICS = Number(process.env.OPEN_FILES_TEST_TOPICS ?? 400);
const OPEN_FILES_LIMIT = Number(process.env.OPEN_FILES_TEST_LIMIT ?? 1_024);
const QUEUES = 8;
/** Calls in flight from the test's clients (topic creation, sends, pulls). */
const CONCURRENCY = 32;
/** Times the broker's descriptors are scanned per phase: a scan of ~4,000 descriptors blocks this process for ~30 ms. */
const FD_SCANS_PER_PHASE = 50;
const scanEvery = Math.max(1, Math.floor(TOPICS / FD_SCANS_PER_PHASE));

/** Runs fn over items with at most CONCURRENCY calls in flight. */
async function eachLimited<T>(items: readonly T[], fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const index = next++;
        await fn(items[index] as T, index);
      }
    }),
  );
}

/** Segment and consume-queue files (20-digit names under the data dir) the process holds open. */
function storeFilesOpen(pid: number, dataDir: string): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(dataDir) && /\/\d{20}$/.test(target)) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

describe('a broker under a low open-files limit', () => {
  const clients: Array<{ shutdown(): Promise<void> }> = [];
  afterAll(async () => {
    for (const client of clients) await client.shutdown().catch(() => undefined);
  });

  it(`serves ${TOPICS} topics × ${QUEUES} queues with one message each under ulimit -n ${OPEN_FILES_LIMIT}, restarts, and every message is consumable`, async () => {
    const root = tempDir('conveyor-open-files-');
    const [nsPort, nsHttpPort, port, httpPort] = (await freePorts(4)) as [number, number, number, number];
    const nameserver = spawnConveyor({ name: 'nameserver', args: ['nameserver', '--port', String(nsPort), '--http-port', String(nsHttpPort)], logDir: root });
    await waitReady(nameserver, nsHttpPort, 60_000);
    const nameservers = `127.0.0.1:${nsPort}`;
    const dataDir = join(root, 'broker-a');
    const args = ['broker', '--name', 'broker-a', '--port', String(port), '--http-port', String(httpPort), '--nameservers', nameservers, '--data', dataDir, '--register-interval-ms', '1000'];
    const launch = (): RunningProcess => spawnConveyor({ name: 'broker-a', args, logDir: root, openFilesLimit: OPEN_FILES_LIMIT });
    let broker = launch();
    await waitReady(broker, httpPort, 60_000);
    const budget = planOpenFiles(OPEN_FILES_LIMIT, 'proc').budget;
    const queueCount = TOPICS * QUEUES;
    expect(queueCount).toBeGreaterThan(4 * budget); // the bound is real: most queues' files must be closed
    const startLine = readFileSync(broker.logFile, 'utf8').split('\n').find((l) => l.includes('"open files budget"'));
    expect(JSON.parse(startLine ?? '{}')).toMatchObject({ softLimit: OPEN_FILES_LIMIT, budget });

    const topics = Array.from({ length: TOPICS }, (_, i) => `files-${String(i).padStart(5, '0')}`);
    const timings: Record<string, number> = {};
    let started = Date.now();
    const admin = new Admin({ nameservers });
    clients.push(admin);
    await admin.start();
    await eachLimited(topics, async (topic) => {
      await admin.createTopic(topic, { queues: QUEUES, routeWaitMs: 0 });
    });
    timings.createMs = Date.now() - started;

    // One message per queue: 8 sends in turn to a topic of 8 queues go round-robin over all 8.
    const producer = new Producer({ nameservers });
    clients.push(producer);
    await producer.start();
    const sent = new Map<string, string>(); // topic/queueId → message id
    let peakStoreFiles = 0;
    started = Date.now();
    await eachLimited(topics, async (topic, index) => {
      for (let i = 0; i < QUEUES; i++) {
        const result = await producer.send(topic, { body: `${topic}#${i}` });
        expect(result.status).toBe('OK');
        sent.set(`${topic}/${result.queueId}`, result.messageId);
      }
      if (index % scanEvery === 0) peakStoreFiles = Math.max(peakStoreFiles, storeFilesOpen(broker.pid, dataDir));
    });
    timings.sendMs = Date.now() - started;
    expect(sent.size).toBe(queueCount);

    // Every queue's file is written and synced by the next flush ticks through the budget; the broker stays ready.
    await new Promise((r) => setTimeout(r, 1_500));
    peakStoreFiles = Math.max(peakStoreFiles, storeFilesOpen(broker.pid, dataDir));
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);

    // SIGKILL and start again: recovery opens the queues through the cache.
    started = Date.now();
    broker.signal('SIGKILL');
    await broker.exited;
    broker = launch();
    await waitReady(broker, httpPort, 60_000);
    timings.restartMs = Date.now() - started;

    const consumer = new PullConsumer({ nameservers, group: 'open-files-check' });
    clients.push(consumer);
    await consumer.start();
    const received = new Map<string, string>();
    started = Date.now();
    await eachLimited(topics, async (topic, index) => {
      for (let queueId = 0; queueId < QUEUES; queueId++) {
        const queue: MessageQueue = { topic, brokerName: 'broker-a', queueId };
        const bound = loopBound(`pulling ${topic}/${queueId}`, 20, 30_000);
        for (;;) {
          bound.tick();
          const page = await consumer.pull(queue, 0, 10);
          if (page.status === 'FOUND') {
            expect(page.messages).toHaveLength(1);
            received.set(`${topic}/${queueId}`, page.messages[0]!.messageId);
            break;
          }
          await new Promise((r) => setTimeout(r, 200)); // route not refreshed yet after the restart
        }
      }
      if (index % scanEvery === 0) peakStoreFiles = Math.max(peakStoreFiles, storeFilesOpen(broker.pid, dataDir));
    });
    timings.consumeMs = Date.now() - started;
    expect(received).toEqual(sent);
    expect(peakStoreFiles).toBeLessThanOrEqual(budget);

    const logs = readFileSync(broker.logFile, 'utf8');
    expect(logs).not.toMatch(/EMFILE|store [a-z ]+ failed|broker failed to start/);
    console.log(JSON.stringify({ topics: TOPICS, queues: queueCount, limit: OPEN_FILES_LIMIT, budget, peakStoreFiles, ...timings }));
  }, 600_000);
});
