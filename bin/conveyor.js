#!/usr/bin/env node
// The `conveyor` command. A thin dispatcher: server processes live in nameserver/ and broker/,
// everything else (cluster launcher, admin, send/consume, bench) in client/cli. TypeScript runs
// directly through tsx.
import { register } from 'tsx/esm/api';

register();
const command = process.argv[2];
const entry =
  command === 'nameserver' ? '../nameserver/main.ts'
  : command === 'broker' ? '../broker/main.ts'
  : '../client/cli/main.ts';
const module = await import(new URL(entry, import.meta.url).href);
await module.main(process.argv.slice(2));
