// StoreOptions with defaults applied, validated once at open: every problem is listed with the
// setting's name (CONFIG_INVALID).
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import { statfsProbe, type DiskUsageProbe } from './disk-usage.js';
import { OPEN_FILES_BUDGET_MIN, planOpenFilesForProcess } from './open-files-budget.js';
import {
  CONSUME_QUEUE_ENTRIES_PER_FILE_DEFAULT,
  DISK_HARD_THRESHOLD_PERCENT_DEFAULT,
  DISK_SOFT_THRESHOLD_PERCENT_DEFAULT,
  FLUSH_INTERVAL_MS_DEFAULT,
  RETENTION_HOURS_DEFAULT,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
} from './store-limits.js';
import type { FlushMode, StoreOptions } from './types.js';

export interface ResolvedStoreOptions {
  dataDir: string;
  segmentBytes: number;
  flushMode: FlushMode;
  flushIntervalMs: number;
  retentionMs: number;
  diskSoftThresholdPercent: number;
  diskHardThresholdPercent: number;
  diskUsage: DiskUsageProbe;
  clock: () => number;
  log: Logger;
  consumeQueueEntriesPerFile: number;
  backgroundTimers: boolean;
  openFilesMax: number;
}

const HOUR_MS = 3_600_000;

export function resolveStoreOptions(options: StoreOptions): ResolvedStoreOptions {
  const dataDir = path.resolve(options.dataDir);
  const resolved: ResolvedStoreOptions = {
    dataDir,
    segmentBytes: options.segmentBytes ?? SEGMENT_BYTES_DEFAULT,
    flushMode: options.flushMode ?? 'async',
    flushIntervalMs: options.flushIntervalMs ?? FLUSH_INTERVAL_MS_DEFAULT,
    retentionMs: (options.retentionHours ?? RETENTION_HOURS_DEFAULT) * HOUR_MS,
    diskSoftThresholdPercent: options.diskSoftThresholdPercent ?? DISK_SOFT_THRESHOLD_PERCENT_DEFAULT,
    diskHardThresholdPercent: options.diskHardThresholdPercent ?? DISK_HARD_THRESHOLD_PERCENT_DEFAULT,
    diskUsage: options.diskUsage ?? statfsProbe(dataDir),
    clock: options.clock ?? Date.now,
    log: (options.log ?? pino({ level: 'silent' })).child({ component: 'store' }),
    consumeQueueEntriesPerFile: options.consumeQueueEntriesPerFile ?? CONSUME_QUEUE_ENTRIES_PER_FILE_DEFAULT,
    backgroundTimers: options.backgroundTimers ?? true,
    openFilesMax: options.openFilesMax ?? Math.max(OPEN_FILES_BUDGET_MIN, planOpenFilesForProcess().budget),
  };
  const problems: string[] = [];
  const { segmentBytes, flushIntervalMs, retentionMs, diskSoftThresholdPercent: soft, diskHardThresholdPercent: hard } = resolved;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < SEGMENT_BYTES_MIN || segmentBytes > SEGMENT_BYTES_MAX) {
    problems.push(`segmentBytes must be an integer in [${SEGMENT_BYTES_MIN}, ${SEGMENT_BYTES_MAX}], got ${segmentBytes}`);
  }
  if (resolved.flushMode !== 'async' && resolved.flushMode !== 'sync') problems.push(`flushMode must be 'async' or 'sync', got '${String(resolved.flushMode)}'`);
  if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 1) problems.push(`flushIntervalMs must be at least 1, got ${flushIntervalMs}`);
  if (!Number.isFinite(retentionMs) || retentionMs <= 0) problems.push(`retentionHours must be positive, got ${options.retentionHours}`);
  if (!(soft > 0 && soft <= 100)) problems.push(`diskSoftThresholdPercent must be in (0, 100], got ${soft}`);
  if (!(hard > 0 && hard <= 100)) problems.push(`diskHardThresholdPercent must be in (0, 100], got ${hard}`);
  if (soft > hard) problems.push(`diskSoftThresholdPercent (${soft}) must not exceed diskHardThresholdPercent (${hard})`);
  if (!Number.isSafeInteger(resolved.consumeQueueEntriesPerFile) || resolved.consumeQueueEntriesPerFile < 1) {
    problems.push(`consumeQueueEntriesPerFile must be a positive integer, got ${resolved.consumeQueueEntriesPerFile}`);
  }
  if (!Number.isSafeInteger(resolved.openFilesMax) || resolved.openFilesMax < OPEN_FILES_BUDGET_MIN) {
    problems.push(`openFilesMax must be an integer of at least ${OPEN_FILES_BUDGET_MIN}, got ${resolved.openFilesMax}`);
  }
  if (problems.length > 0) {
    throw new ConveyorError(ErrorCode.CONFIG_INVALID, `invalid store options: ${problems.join('; ')}`, { problems: problems.join('; ') });
  }
  return resolved;
}
