import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { planLayout } from '../../../../deploy/local/layout.js';
import { resolveClusterOptions } from '../../../../deploy/local/options.js';
import { readState, requireState, stateFilePath, updateState, withStateLock, writeState, type ClusterState } from '../../../../deploy/local/state-file.js';
import { tempDir } from '../../../helpers/processes.js';

function sampleState(dir: string): ClusterState {
  const options = resolveClusterOptions({ dir, basePort: 20000 });
  return {
    version: 1,
    createdAtMs: 1_700_000_000_000,
    bin: '/repo/bin/conveyor.js',
    cwd: '/repo',
    launcherPid: null,
    options,
    env: { CONVEYOR_SEGMENT_BYTES: '1048576' },
    processes: planLayout(options).processes.map((spec, i) => ({ ...spec, pid: i === 0 ? 4242 : null, startedAtMs: i === 0 ? 1_700_000_000_500 : null })),
  };
}

function errorOf(fn: () => unknown): ConveyorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConveyorError);
    return err as ConveyorError;
  }
  throw new Error('expected a ConveyorError');
}

describe('state file', () => {
  const root = tempDir('conveyor-state-');

  it('reads back exactly what was written, as pretty JSON named cluster.json', () => {
    const dir = join(root, 'round-trip');
    const state = sampleState(dir);
    writeState(dir, state);
    expect(stateFilePath(dir)).toBe(join(dir, 'cluster.json'));
    expect(readFileSync(stateFilePath(dir), 'utf8')).toContain('\n  "version": 1,');
    expect(readState(dir)).toEqual(state);
  });

  it('reads as absent when the directory holds no cluster, and requireState says how to start one', () => {
    const dir = join(root, 'empty');
    expect(readState(dir)).toBeNull();
    const err = errorOf(() => requireState(dir));
    expect(err.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(err.message).toContain(`conveyor cluster up --dir ${dir}`);
  });

  it('refuses a corrupt file or one of another version with a clear error', () => {
    const dir = join(root, 'corrupt');
    mkdirSync(dir, { recursive: true });
    writeFileSync(stateFilePath(dir), '{"version": 1, "bin": ');
    expect(errorOf(() => readState(dir)).message).toMatch(/cluster\.json is not usable \(invalid JSON/);
    writeFileSync(stateFilePath(dir), JSON.stringify({ ...sampleState(dir), version: 2 }));
    expect(errorOf(() => readState(dir)).message).toMatch(/version 2, this launcher reads version 1/);
    writeFileSync(stateFilePath(dir), JSON.stringify({ ...sampleState(dir), processes: [{ name: 'x' }] }));
    expect(errorOf(() => readState(dir)).message).toMatch(/lacks name, args, httpPort or logFile/);
  });

  it('updates under a lock and removes the lock afterwards', async () => {
    const dir = join(root, 'update');
    writeState(dir, sampleState(dir));
    const returned = await updateState(dir, (s) => {
      const record = s.processes[1];
      if (record) record.pid = 777;
      return 'changed';
    });
    expect(returned).toBe('changed');
    expect(readState(dir)?.processes[1]?.pid).toBe(777);
    expect(existsSync(`${stateFilePath(dir)}.lock`)).toBe(false);
  });

  it('serializes concurrent updates so that none is lost', async () => {
    const dir = join(root, 'concurrent');
    writeState(dir, sampleState(dir));
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        updateState(dir, (s) => {
          const record = s.processes[i];
          if (record) record.pid = 1000 + i;
        }),
      ),
    );
    expect(readState(dir)?.processes.map((p) => p.pid)).toEqual([1000, 1001, 1002, 1003, 1004]);
  });

  it('takes over a lock left behind by a dead process', async () => {
    const dir = join(root, 'stale');
    writeState(dir, sampleState(dir));
    // Pid 2^22+1 is above Linux's pid_max default, so no process has it.
    writeFileSync(`${stateFilePath(dir)}.lock`, String(4_194_305));
    expect(await withStateLock(dir, () => 'got it')).toBe('got it');
  });
});
