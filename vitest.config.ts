import { defineConfig } from 'vitest/config';

// Three projects (STYLE.md): fast unit tests of pure logic and storage on temp dirs; cluster tests
// that start real processes on ephemeral ports; the short chaos run. `npm test` runs all three.
// Processes run the compiled dist/: the projects that spawn them build it first.
const BUILD_DIST = './test/helpers/build-dist.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: [BUILD_DIST],
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
          globalSetup: [BUILD_DIST],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
