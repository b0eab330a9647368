// Global setup of the projects that start real processes (cluster, chaos): every process runs the
// compiled JavaScript in dist/ (bin/conveyor.js), so dist/ is brought up to date with the sources
// first (an incremental tsc build: a couple of seconds when nothing changed). A build error fails
// the run before any test starts, instead of testing stale code.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

// Not from processes.ts: that module registers vitest hooks, which a global setup cannot.
const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** A full build takes ~6 s on 2 cores; this bounds a hung compiler. */
const BUILD_TIMEOUT_MS = 180_000;

export function setup(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit', timeout: BUILD_TIMEOUT_MS });
}
