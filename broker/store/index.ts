// The storage engine (DESIGN.md §3, docs/storage.md). The broker imports from here only.
export { MessageStore } from './message-store.js';
export { MetadataStore, type OffsetEntry } from './metadata.js';
export { checkOpenFilesPlan, OPEN_FILES_BUDGET_MAX, planOpenFilesForProcess, type OpenFilesPlan } from './open-files-budget.js';
export type { RecoveryReport } from './recovery.js';
export type { RetentionRun } from './retention.js';
export type {
  AppendResult,
  FlushMode,
  QueueRange,
  ReadOptions,
  ReadResult,
  StoreMessageInput,
  StoreOptions,
  StoreStats,
} from './types.js';
export * from './store-limits.js';
