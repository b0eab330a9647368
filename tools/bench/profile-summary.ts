// Reading a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof` or cpu-profile-preload.mjs)
// into the few lines docs/performance.md needs: the functions with the most self time, and the
// share of time under chosen frames (inclusive), e.g. "protobuf encode" or "level put". Pure.
import { relative } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

interface FrameShare {
  /** `functionName (file:line)`, or a V8 pseudo-frame such as `(garbage collector)`. */
  frame: string;
  /** Percentage of all samples (idle included). */
  percent: number;
  ms: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples not idle: how busy the process's main thread was. */
  busyPercent: number;
  topSelf: FrameShare[];
}

/** Frames with the most self time, `limit` of them, idle excluded. */
export function summarizeProfile(profile: CpuProfile, limit = 15, root = process.cwd()): ProfileSummary {
  const { selfMs, totalMs } = selfTimes(profile);
  const byFrame = new Map<string, number>();
  let idleMs = 0;
  for (const node of profile.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    if (ms === 0) continue;
    const name = frameName(node, root);
    if (name === '(idle)') idleMs += ms;
    byFrame.set(name, (byFrame.get(name) ?? 0) + ms);
  }
  byFrame.delete('(idle)');
  const topSelf = [...byFrame.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([frame, ms]) => ({ frame, ms: round(ms), percent: round((100 * ms) / Math.max(totalMs, 1e-9)) }));
  return { totalMs: round(totalMs), busyPercent: round((100 * (totalMs - idleMs)) / Math.max(totalMs, 1e-9)), topSelf };
}

/** Percentage of all samples spent in (or under) a frame whose name or url matches `pattern`. */
export function inclusivePercent(profile: CpuProfile, pattern: RegExp): number {
  const { selfMs, totalMs } = selfTimes(profile);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let ms = 0;
  const visit = (id: number, under: boolean): void => {
    const node = byId.get(id);
    if (node === undefined) return;
    const matched = under || pattern.test(`${node.callFrame.functionName} ${node.callFrame.url}`);
    if (matched) ms += selfMs.get(id) ?? 0;
    for (const child of node.children ?? []) visit(child, matched);
  };
  const first = profile.nodes[0];
  if (first !== undefined) visit(first.id, false);
  return round((100 * ms) / Math.max(totalMs, 1e-9));
}

function selfTimes(profile: CpuProfile): { selfMs: Map<number, number>; totalMs: number } {
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap to the next one (the last sample gets the average).
    const us = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
    const id = samples[i] as number;
    selfMs.set(id, (selfMs.get(id) ?? 0) + us / 1000);
    totalUs += us;
  }
  return { selfMs, totalMs: totalUs / 1000 };
}

function frameName(node: CpuProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName.length > 0 ? functionName : '(anonymous)';
  if (url.length === 0) return name;
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const shown = path.startsWith('/') ? relative(root, path) : path;
  return `${name} (${shown}:${lineNumber + 1})`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
