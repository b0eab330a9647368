import { describe, expect, it } from 'vitest';
import { inclusivePercent, summarizeProfile, type CpuProfile } from '../../../../tools/bench/profile-summary.js';

// root → main → { encode (self), level.get → crc32c } plus idle and GC samples; 1 ms per sample.
const profile: CpuProfile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5, 6] },
    { id: 2, callFrame: { functionName: 'main', url: 'file:///repo/broker/main.ts', lineNumber: 9 }, children: [3, 4] },
    { id: 3, callFrame: { functionName: 'encode', url: 'file:///repo/node_modules/protobufjs/writer.js', lineNumber: 0 } },
    { id: 4, callFrame: { functionName: 'getMany', url: 'file:///repo/node_modules/classic-level/index.js', lineNumber: 141 }, children: [7] },
    { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    { id: 6, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    { id: 7, callFrame: { functionName: 'crc32c', url: '', lineNumber: -1 } },
  ],
  // 10 samples: encode ×3, crc32c ×2, getMany ×1, idle ×3, gc ×1.
  samples: [3, 3, 3, 7, 7, 4, 5, 5, 5, 6],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('CPU profile summary', () => {
  it('ranks frames by self time with repository-relative locations, idle left out', () => {
    const s = summarizeProfile(profile, 3, '/repo');
    expect(s.totalMs).toBe(10);
    expect(s.busyPercent).toBe(70);
    expect(s.topSelf).toEqual([
      { frame: 'encode (node_modules/protobufjs/writer.js:1)', ms: 3, percent: 30 },
      { frame: 'crc32c', ms: 2, percent: 20 },
      { frame: 'getMany (node_modules/classic-level/index.js:142)', ms: 1, percent: 10 },
    ]);
  });

  it('adds up the time spent under a matching frame', () => {
    expect(inclusivePercent(profile, /classic-level/)).toBe(30);
    expect(inclusivePercent(profile, /broker\/main/)).toBe(60);
    expect(inclusivePercent(profile, /garbage collector/)).toBe(10);
    expect(inclusivePercent(profile, /nothing-matches/)).toBe(0);
  });
});
