import { defineConfig } from 'vitest/config';

// Every project: the run's temp directories in one directory, checked empty of test leftovers at
// the end (test/helpers/temp-root.ts).
const globalSetup = ['test/helpers/temp-root.ts'];

// Three projects (STYLE.md): fast unit tests of pure logic and storage on temp dirs; cluster tests
// that start real processes on ephemeral ports; the short chaos run. `npm test` runs all three.
// Every project has a test and a hook timeout; loops inside tests have their own bounds
// (test/helpers/loop-bound.ts), and .ci/run bounds the whole run.
// Processes run the compiled dist/: the projects that spawn them build it first.
const processGlobalSetup = [...globalSetup, 'test/helpers/build-dist.ts'];

export default defineConfig({
  test: {
    // Global teardown (the temp-dir check) and worker shutdown get this long.
    teardownTimeout: 30_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: processGlobalSetup,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes on a 2-core machine: one file at a time keeps timings honest.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'chaos-short',
          include: ['test/chaos/**/*.test.ts'],
          globalSetup: processGlobalSetup,
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
