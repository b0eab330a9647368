// vitest globalSetup of every project (vitest.config.ts): the run's temp directories go into one
// fresh directory, and a test that leaves one behind fails the run.
//
// setup points TMPDIR at `<os temp dir>/conveyor-test-run-XXXXXX` before any worker starts, so the
// workers, and the brokers and CLIs the tests spawn, make their temp directories there
// (os.tmpdir() reads TMPDIR). The last teardown lists the `conveyor-*` entries still in it: each is
// a test that did not remove what it created; they are printed, the run's exit code is 1 and the
// directory is kept for a look. Otherwise it is removed with whatever tools left in it, so a clean
// run leaves nothing in the OS temp dir. Parallel files cannot make it flake: nothing is compared
// while tests run, and the check looks only at this run's directory, never at the shared temp dir
// that other runs write to.
//
// Each project loads this file on its own; the environment is the state they share (the first
// setup creates the directory, the last teardown checks it).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN_DIR_ENV = 'TESTS_RUN_TMPDIR';
const USERS_ENV = 'TESTS_RUN_TMPDIR_USERS';
const ORIGINAL_ENV = 'TESTS_RUN_TMPDIR_ORIGINAL';
/** Entries made by tests carry this prefix (test/helpers/processes.ts tempDir, the store fixtures…). */
const TEST_ENTRY_PREFIX = 'conveyor-';

export function setup(): () => void {
  if (process.env[RUN_DIR_ENV] === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-test-run-'));
    process.env[ORIGINAL_ENV] = process.env.TMPDIR ?? '';
    process.env[RUN_DIR_ENV] = dir;
    process.env[USERS_ENV] = '0';
    process.env.TMPDIR = dir;
  }
  process.env[USERS_ENV] = String(Number(process.env[USERS_ENV]) + 1);
  return teardown;
}

function teardown(): void {
  const users = Number(process.env[USERS_ENV]) - 1;
  process.env[USERS_ENV] = String(users);
  if (users > 0) return;
  const dir = process.env[RUN_DIR_ENV] as string;
  const left = readdirSync(dir).filter((name) => name.startsWith(TEST_ENTRY_PREFIX)).sort();
  if (left.length > 0) {
    // Kept, not removed: what is in it names the test, and a failed chaos run keeps its logs there on purpose.
    console.error(`\n${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} left behind by tests (each test removes what it creates; docs/testing.md), kept in ${dir}:\n${left.map((name) => `  ${name}`).join('\n')}\n`);
    process.exitCode = 1;
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
  const original = process.env[ORIGINAL_ENV];
  if (original) process.env.TMPDIR = original;
  else delete process.env.TMPDIR;
  delete process.env[RUN_DIR_ENV];
  delete process.env[USERS_ENV];
  delete process.env[ORIGINAL_ENV];
}
