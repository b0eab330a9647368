import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conveyor } from '../../../proto/index.js';
import { REPO_ROOT } from '../../helpers/processes.js';

const genDir = join(REPO_ROOT, 'proto', 'gen');

describe('generated wire code', () => {
  const fresh = mkdtempSync(join(tmpdir(), 'conveyor-gen-'));
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));

  it('matches what `npm run proto:gen` produces from proto/*.proto (regenerate if this fails)', () => {
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO_ROOT, 'scripts', 'gen-proto.ts'), fresh], {
      cwd: REPO_ROOT,
      stdio: 'pipe',
    });
    const committed = readdirSync(genDir).sort();
    expect(readdirSync(fresh).sort()).toEqual(committed);
    for (const file of committed) {
      expect(readFileSync(join(fresh, file), 'utf8'), `proto/gen/${file} is stale`).toBe(readFileSync(join(genDir, file), 'utf8'));
    }
  }, 60_000);

  it('round-trips a message through encode and decode with int64 fields as numbers', () => {
    const bytes = conveyor.SendResult.encode({ messageId: 'm1', status: conveyor.ErrorCode.SLAVE_TIMEOUT, queueOffset: 2 ** 40 + 3, physicalOffset: 7 }).finish();
    const back = conveyor.SendResult.decode(bytes);
    expect(back.messageId).toBe('m1');
    expect(back.status).toBe(conveyor.ErrorCode.SLAVE_TIMEOUT);
    expect(back.queueOffset).toBe(2 ** 40 + 3);
    expect(typeof back.physicalOffset).toBe('number');
  });

  it('keeps error code numbers stable', () => {
    // Numbers are a wire contract: changing one breaks every deployed client.
    expect(conveyor.ErrorCode.OK).toBe(0);
    expect(conveyor.ErrorCode.TOPIC_NOT_FOUND).toBe(4);
    expect(conveyor.ErrorCode.MESSAGE_TOO_LARGE).toBe(6);
    expect(conveyor.ErrorCode.NOT_MASTER).toBe(9);
    expect(conveyor.ErrorCode.SLAVE_NOT_AVAILABLE).toBe(10);
    expect(conveyor.ErrorCode.SLAVE_TIMEOUT).toBe(11);
    expect(conveyor.ErrorCode.SERVICE_UNAVAILABLE).toBe(13);
    expect(conveyor.ErrorCode.ACCESS_DENIED).toBe(14);
    expect(conveyor.ErrorCode.OFFSET_OUT_OF_RANGE).toBe(15);
    expect(conveyor.ErrorCode.DISK_FULL).toBe(16);
  });
});
