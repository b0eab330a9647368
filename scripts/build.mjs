#!/usr/bin/env node
// npm run build: compiles the sources to dist/ (JavaScript, declarations, source maps) and copies
// the files tsc does not emit: the protobufjs code generated into proto/gen/ (JavaScript with its
// own .d.ts) and the bench tool's CPU-profile preload. `--clean` (npm's prepare and prepack use
// it) removes dist/ first, so nothing of a deleted source survives into the package; without it
// the build is incremental (the test projects' global setup runs it before spawning processes).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
/** Files that are JavaScript (or declarations) already: copied to the same place under dist/. */
const COPIED = ['proto/gen/conveyor.js', 'proto/gen/conveyor.d.ts', 'tools/bench/cpu-profile-preload.mjs'];

if (process.argv.includes('--clean')) rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const file of COPIED) {
  mkdirSync(dirname(join(dist, file)), { recursive: true });
  copyFileSync(join(root, file), join(dist, file));
}
