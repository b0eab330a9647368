// Fixtures for store tests: a temp data directory removed afterwards, stores closed afterwards,
// and message builders.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test as base } from 'vitest';
import { MessageStore, type StoreMessageInput, type StoreOptions } from '../../../../broker/store/index.js';

export interface StoreFixtures {
  dataDir: string;
  openStore: (options?: Partial<StoreOptions>) => Promise<MessageStore>;
}

export const test = base.extend<StoreFixtures>({
  // eslint-disable-next-line no-empty-pattern
  dataDir: async ({}, use) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-store-'));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
  openStore: async ({ dataDir }, use) => {
    const opened: MessageStore[] = [];
    await use(async (options = {}) => {
      const store = await MessageStore.open({ dataDir, segmentBytes: 64 * 1024, consumeQueueEntriesPerFile: 100, backgroundTimers: false, ...options });
      opened.push(store);
      return store;
    });
    for (const store of opened) await store.close().catch(() => undefined);
  },
});

export function message(id: string, overrides: Partial<StoreMessageInput> = {}): StoreMessageInput {
  return {
    messageId: id,
    keys: [],
    tag: '',
    properties: {},
    body: Buffer.from(`body of ${id}`),
    bornTimestampMs: 1_700_000_000_000,
    flags: 0,
    ...overrides,
  };
}

/** n messages with ids `${prefix}-${i}` and bodies of `bodyBytes` bytes. */
export function messages(prefix: string, n: number, bodyBytes = 200, overrides: Partial<StoreMessageInput> = {}): StoreMessageInput[] {
  return Array.from({ length: n }, (_, i) => message(`${prefix}-${i}`, { body: Buffer.alloc(bodyBytes, i % 251), ...overrides }));
}

export interface CapturedLog {
  logger: import('pino').Logger;
  lines: Record<string, unknown>[];
}

/** A pino logger whose lines are kept for assertions. */
export async function captureLog(): Promise<CapturedLog> {
  const { pino } = await import('pino');
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}
