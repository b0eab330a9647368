// Disk usage of the data directory, measured with statfs and cached: appends check the cached
// value (no syscall per append); a timer and every retention run refresh it.
import { statfs } from 'node:fs/promises';

export type DiskUsageProbe = () => Promise<{ usedPercent: number }>;

/** Used share of the space a non-root user can have, as `df` prints it. */
export function statfsProbe(dir: string): DiskUsageProbe {
  return async () => {
    const s = await statfs(dir);
    const used = s.blocks - s.bfree;
    const total = used + s.bavail;
    return { usedPercent: total === 0 ? 0 : (used / total) * 100 };
  };
}

export class DiskMonitor {
  usedPercent = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly probe: DiskUsageProbe) {}

  refresh(): Promise<void> {
    this.refreshing ??= this.probe()
      .then(({ usedPercent }) => {
        this.usedPercent = usedPercent;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}
