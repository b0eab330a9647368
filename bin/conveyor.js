#!/usr/bin/env node
// The `conveyor` command. A thin dispatcher onto the compiled JavaScript in dist/ (npm run build):
// server processes live in nameserver/ and broker/, everything else (admin, send/consume, and the
// cluster launcher of deploy/local/ and the benchmarks of tools/bench/ as commands) in cli/.
import { existsSync } from 'node:fs';

const command = process.argv[2];
const entry =
  command === 'nameserver' ? '../dist/nameserver/main.js'
  : command === 'broker' ? '../dist/broker/main.js'
  : '../dist/cli/main.js';
const url = new URL(entry, import.meta.url);
if (!existsSync(url)) {
  process.stderr.write(`conveyor: ${url.pathname} is missing: this checkout is not built (run \`npm run build\`)\n`);
  process.exit(1);
}
// Stack traces name the TypeScript sources (dist/ ships source maps); only errors pay for it.
process.setSourceMapsEnabled(true);
const module = await import(url.href);
await module.main(process.argv.slice(2));
