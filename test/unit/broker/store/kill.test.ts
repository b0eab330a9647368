import { spawn } from 'node:child_process';
import { appendFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, vi } from 'vitest';
import { decodeRecord, decodeRecords } from '../../../../common/record.js';
import { syncAppenderBody } from './fixtures/sync-appender-body.js';
import { test } from './helpers.js';
import { expectProgress, loopBound } from '../../../helpers/loop-bound.js';

const fixture = fileURLToPath(new URL('./fixtures/sync-appender.ts', import.meta.url));

interface Acked {
  messageId: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
}

/** Runs the sync appender until it has acknowledged `acks` messages, then kills it with SIGKILL. */
async function runAndKill(dataDir: string, acks: number): Promise<Acked[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  try {
    await vi.waitFor(() => {
      if (child.exitCode !== null) throw new Error(`appender exited early: ${err}`);
      expect(out.split('\n').filter((l) => l.startsWith('ok ')).length).toBeGreaterThanOrEqual(acks);
    }, { timeout: 20_000, interval: 5 });
  } finally {
    child.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  // Only whole lines count: a line cut by the kill was not seen by anyone.
  return out
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('ok '))
    .map((l) => {
      const [, messageId, queueId, queueOffset, physicalOffset] = l.split(' ');
      return { messageId: messageId!, queueId: Number(queueId), queueOffset: Number(queueOffset), physicalOffset: Number(physicalOffset) };
    });
}

describe('kill -9 during sync-flushed appends', () => {
  test('every acknowledged append is intact after reopening, and nothing after a torn record is served', async ({ dataDir, openStore }) => {
    const acked = await runAndKill(dataDir, 1500);
    expect(acked.length).toBeGreaterThanOrEqual(1500);
    // On top of the kill, tear a record at the end of the log, as a torn disk write would.
    const segments = (await readdir(path.join(dataDir, 'commitlog'))).sort();
    const tornRecord = Buffer.alloc(700, 0xab);
    tornRecord.writeUInt32BE(1200, 0);
    tornRecord[8] = 0xc1;
    await appendFile(path.join(dataDir, 'commitlog', segments.at(-1)!), tornRecord);

    const store = await openStore({ flushMode: 'sync' });
    expect(store.recovery.clean).toBe(false);
    expect(store.recovery.truncatedBytes).toBeGreaterThanOrEqual(700);
    const last = (await readdir(path.join(dataDir, 'commitlog'))).sort().at(-1)!;
    expect(Number(last) + (await stat(path.join(dataDir, 'commitlog', last))).size).toBe(store.maxPhysicalOffset);
    for (const ack of acked) {
      const result = await store.read('killed', ack.queueId, ack.queueOffset, { maxCount: 1, maxBytes: 1 << 20 });
      expect(result.status).toBe('found');
      const record = decodeRecord(result.records);
      expect(record.messageId).toBe(ack.messageId);
      expect(record.physicalOffset).toBe(ack.physicalOffset);
      expect(Buffer.from(record.body).equals(syncAppenderBody(ack.messageId))).toBe(true);
    }
    // Every queue is dense and every record in it is whole; the log itself decodes to its end.
    for (let queueId = 0; queueId < 4; queueId++) {
      const { minQueueOffset, maxQueueOffset } = store.queueRange('killed', queueId);
      let offset = minQueueOffset;
      const bound = loopBound(`reading killed/${queueId}`, maxQueueOffset - minQueueOffset);
      while (offset < maxQueueOffset) {
        bound.tick();
        const result = await store.read('killed', queueId, offset, { maxCount: 500, maxBytes: 1 << 22 });
        const records = [...decodeRecords(result.records)];
        records.forEach((r, i) => expect(r.queueOffset).toBe(offset + i));
        for (const r of records) expect(Buffer.from(r.body).equals(syncAppenderBody(r.messageId))).toBe(true);
        offset = expectProgress(`read of killed/${queueId}`, offset, result.nextQueueOffset);
      }
    }
    // Segment by segment (64 KiB each): a read to the segment end holds whole records and paddings only.
    let physicalOffset = store.minPhysicalOffset;
    let whole = 0;
    const bySegment = loopBound('reading the commit log by segment', Math.ceil(store.maxPhysicalOffset / (64 * 1024)) + 1);
    while (physicalOffset < store.maxPhysicalOffset) {
      bySegment.tick();
      const bytes = await store.readCommitLog(physicalOffset, 64 * 1024 - (physicalOffset % (64 * 1024)));
      whole += [...decodeRecords(bytes)].length;
      physicalOffset = expectProgress('commit-log read', physicalOffset, physicalOffset + bytes.length);
    }
    expect(physicalOffset).toBe(store.maxPhysicalOffset);
    expect(whole).toBeGreaterThanOrEqual(acked.length);
    const [next] = await store.append('killed', 0, [{ messageId: 'after', keys: [], tag: '', properties: {}, body: Buffer.from('x'), bornTimestampMs: 1, flags: 0 }]);
    expect(next!.physicalOffset).toBe(physicalOffset);
  });
});

