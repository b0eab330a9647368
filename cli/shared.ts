// What the data and admin commands share: global options (--nameservers, --json, --log-level),
// a client logger on stderr, number parsing for flags (bad values are usage errors), output.
import { InvalidArgumentError, type Command } from 'commander';
import pino from 'pino';
import type { Logger } from '../common/logging.js';
import { Admin } from '../client/admin/admin.js';
import type { ClientOptions } from '../client/client-context.js';
import { NAMESERVERS_DEFAULT } from '../client/routing/discovery.js';

export const LOG_LEVELS = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

interface GlobalOptions {
  nameservers: string;
  json: boolean;
  logLevel: string;
}

/** The root program's options as the running command sees them (they may be typed anywhere). */
export function globalOptions(cmd: Command): GlobalOptions {
  const all = cmd.optsWithGlobals<{ nameservers?: string; json?: boolean; logLevel?: string }>();
  return { nameservers: all.nameservers ?? process.env.CONVEYOR_NAMESERVERS ?? NAMESERVERS_DEFAULT, json: all.json === true, logLevel: all.logLevel ?? 'silent' };
}

/** Client logs go to stderr (stdout is the command's output), silent unless --log-level is given. */
function cliLogger(level: string): Logger {
  return pino({ level, name: 'conveyor-cli' }, pino.destination(2));
}

export function clientOptions(cmd: Command): ClientOptions {
  const global = globalOptions(cmd);
  return { nameservers: global.nameservers, log: cliLogger(global.logLevel) };
}

/** Runs `work` with a started Admin and shuts it down afterwards. */
export async function withAdmin<T>(cmd: Command, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(clientOptions(cmd));
  await admin.start();
  try {
    return await work(admin);
  } finally {
    await admin.shutdown();
  }
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** One JSON document (pretty) for queries; send/consume print one compact line per message instead. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A commander argument parser for whole numbers in [min, max]; a bad value is a usage error. */
export function integerOption(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** Left-aligned columns, two spaces apart, for text tables. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export function formatTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : '-';
}
