// "Something changed": a version number and the waiters for its next change. A waiter reads the
// version before it looks at the state and waits "since" that version, so a change between the
// look and the wait is never missed. A timed-out waiter is removed (nothing accumulates while idle).
export class WakeSignal {
  private version = 0;
  private readonly waiters = new Set<() => void>();

  /** The version to pass to wait(); read it before reading the state the wait is about. */
  get current(): number {
    return this.version;
  }

  notify(): void {
    this.version += 1;
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolves true at the first notify() after version `since` (at once if one happened already),
   * false after `timeoutMs` (Infinity: no timeout).
   */
  wait(since: number, timeoutMs: number): Promise<boolean> {
    if (this.version !== since) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(true);
      };
      this.waiters.add(wake);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.waiters.delete(wake);
          resolve(false);
        }, timeoutMs);
      }
    });
  }
}
