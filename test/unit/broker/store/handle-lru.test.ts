import { describe, expect, it } from 'vitest';
import { HandleLru } from '../../../../broker/store/handle-lru.js';
import { ErrorCode } from '../../../../common/errors.js';
import { captureLog } from './helpers.js';
import {
  checkOpenFilesPlan,
  META_MAX_OPEN_FILES,
  OPEN_FILES_LIMIT_MIN,
  OPEN_FILES_BUDGET_MAX,
  OPEN_FILES_BUDGET_MIN,
  parseOpenFilesLimit,
  planOpenFiles,
  PROCESS_FILES_RESERVED,
  SOCKETS_RESERVED_MIN,
} from '../../../../broker/store/open-files-budget.js';

/** Opens key (pinned once) and releases it at once: an idle open file. */
function openIdle(lru: HandleLru<string>, key: string): void {
  lru.addPinned(key);
  lru.unpin(key);
}

describe('HandleLru', () => {
  it('closes the least recently used file first, a use making a file the most recent', () => {
    const lru = new HandleLru<string>(3);
    openIdle(lru, 'a');
    openIdle(lru, 'b');
    openIdle(lru, 'c');
    expect(lru.full).toBe(true);
    expect(lru.nextToClose()).toBe('a');
    lru.pin('a');
    lru.unpin('a');
    expect(lru.nextToClose()).toBe('b');
    lru.beginClose('b');
    expect(lru.nextToClose()).toBe('c');
    lru.beginClose('c');
    expect(lru.nextToClose()).toBe('a');
  });

  it('never chooses a pinned file, however old, and chooses it again once unpinned', () => {
    const lru = new HandleLru<string>(2);
    lru.addPinned('old');
    openIdle(lru, 'new');
    expect(lru.nextToClose()).toBe('new');
    lru.pin('new');
    expect(lru.nextToClose()).toBeUndefined();
    lru.pin('old');
    expect(lru.unpin('old')).toBe(1);
    expect(lru.nextToClose()).toBeUndefined();
    expect(lru.unpin('old')).toBe(0);
    expect(lru.nextToClose()).toBe('old');
    expect(() => lru.beginClose('new')).toThrow(/pinned/);
  });

  it('counts a file being closed against the budget until its close has finished', () => {
    const lru = new HandleLru<string>(2);
    openIdle(lru, 'a');
    openIdle(lru, 'b');
    lru.beginClose('a');
    expect(lru.full).toBe(true);
    expect(lru.isClosing('a')).toBe(true);
    expect(() => lru.pin('a')).toThrow(/not open/);
    expect(() => lru.addPinned('c')).toThrow(/budget/);
    lru.remove('a');
    expect(lru.full).toBe(false);
    lru.addPinned('c');
    expect(lru.size).toBe(2);
  });

  it('refuses a key added twice and an unpin without a pin', () => {
    const lru = new HandleLru<string>(4);
    openIdle(lru, 'a');
    expect(() => lru.addPinned('a')).toThrow(/twice/);
    expect(() => lru.unpin('a')).toThrow(/without pin/);
    expect(() => new HandleLru<string>(0)).toThrow(RangeError);
  });
});

describe('planOpenFiles', () => {
  it('leaves the limit minus LevelDB, the process and a quarter of the rest for sockets', () => {
    const plan = planOpenFiles(4_096, 'proc');
    const left = 4_096 - META_MAX_OPEN_FILES - PROCESS_FILES_RESERVED;
    expect(plan.socketsReserved).toBe(Math.ceil(left / 4));
    expect(plan.headroom).toBe(META_MAX_OPEN_FILES + PROCESS_FILES_RESERVED + Math.ceil(left / 4));
    expect(plan.budget).toBe(4_096 - plan.headroom);
    expect(plan.budget).toBe(2_832);
    expect(plan.tooLow).toBe(false);
  });

  it('keeps at least SOCKETS_RESERVED_MIN sockets and refuses a budget below the minimum', () => {
    const plan = planOpenFiles(512, 'proc');
    expect(plan.socketsReserved).toBe(SOCKETS_RESERVED_MIN);
    expect(plan.budget).toBe(512 - META_MAX_OPEN_FILES - PROCESS_FILES_RESERVED - SOCKETS_RESERVED_MIN);
    expect(plan.tooLow).toBe(false);
    const low = planOpenFiles(META_MAX_OPEN_FILES + PROCESS_FILES_RESERVED + SOCKETS_RESERVED_MIN + OPEN_FILES_BUDGET_MIN - 1, 'proc');
    expect(low.budget).toBe(OPEN_FILES_BUDGET_MIN - 1);
    expect(low.tooLow).toBe(true);
    expect(planOpenFiles(100, 'fallback').budget).toBe(0);
  });

  it('caps the budget at OPEN_FILES_BUDGET_MAX however high the limit', () => {
    expect(planOpenFiles(1_048_576, 'proc').budget).toBe(OPEN_FILES_BUDGET_MAX);
  });

  it('takes a lower openFilesMax as is and clamps a higher one to what the limit leaves', () => {
    expect(planOpenFiles(4_096, 'proc', 100)).toMatchObject({ budget: 100, settingClamped: false, tooLow: false });
    expect(planOpenFiles(4_096, 'proc', 10_000)).toMatchObject({ budget: 2_832, limitBudget: 2_832, settingClamped: true });
    expect(planOpenFiles(4_096, 'proc', 8)).toMatchObject({ budget: 8, tooLow: true });
  });
});

describe('checkOpenFilesPlan', () => {
  it('logs one line with the limit, the headroom and the budget', async () => {
    const { logger, lines } = await captureLog();
    checkOpenFilesPlan(planOpenFiles(4_096, 'proc'), logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'open files budget', level: 30, softLimit: 4_096, headroom: 1_264, budget: 2_832 });
    checkOpenFilesPlan(planOpenFiles(4_096, 'proc', 5_000), logger);
    expect(lines[1]).toMatchObject({ level: 40, openFilesMax: 5_000, budget: 2_832 });
  });

  it('refuses a limit that leaves fewer than OPEN_FILES_BUDGET_MIN handles, naming the limit to set', async () => {
    const { logger, lines } = await captureLog();
    expect(() => checkOpenFilesPlan(planOpenFiles(OPEN_FILES_LIMIT_MIN - 1, 'proc'), logger)).toThrow(
      expect.objectContaining({ code: ErrorCode.CONFIG_INVALID, message: expect.stringContaining(`at least ${OPEN_FILES_LIMIT_MIN}`) }),
    );
    expect(lines[0]).toMatchObject({ msg: 'open files budget too low', budget: OPEN_FILES_BUDGET_MIN - 1 });
    expect(() => checkOpenFilesPlan(planOpenFiles(OPEN_FILES_LIMIT_MIN, 'proc'), logger)).not.toThrow();
  });
});

describe('parseOpenFilesLimit', () => {
  it('reads the soft limit of the "Max open files" line of /proc/self/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max processes             63704                63704                processes',
      'Max open files            4096                 524288               files',
      'Max locked memory         8388608              8388608              bytes',
    ].join('\n');
    expect(parseOpenFilesLimit(text)).toBe(4_096);
    expect(parseOpenFilesLimit('Max open files            unlimited            unlimited            files')).toBeUndefined();
    expect(parseOpenFilesLimit('nothing here')).toBeUndefined();
  });
});
