// Loops in tests are bounded by count and time (STYLE.md: a test that can hang must fail
// instead). A read loop whose position stops moving — a store bug that answers the same offset
// again — would otherwise spin forever; when every turn resolves without I/O it also starves the
// event loop, so vitest's own timeout never fires. The deadline here is checked synchronously on
// every turn, so it holds even then.

/** Default wall-time bound of a loop in a test: well inside the unit project's 30 s test timeout. */
export const LOOP_TIME_MS_DEFAULT = 20_000;

export class LoopBound {
  private turns = 0;
  private readonly deadlineMs: number;

  constructor(
    private readonly what: string,
    private readonly turnsMax: number,
    private readonly timeMs = LOOP_TIME_MS_DEFAULT,
  ) {
    this.deadlineMs = Date.now() + timeMs;
  }

  /** Call at the top of every turn: throws once the loop has run more than turnsMax turns or timeMs. */
  tick(): void {
    this.turns++;
    if (this.turns > this.turnsMax) throw new Error(`${this.what}: still looping after ${this.turnsMax} turns (a position that stopped moving?)`);
    if (Date.now() > this.deadlineMs) throw new Error(`${this.what}: still looping after ${this.timeMs} ms (${this.turns} turns)`);
  }
}

/** `new LoopBound(...)`, for a loop that reads as `while (cond) { bound.tick(); … }`. */
export function loopBound(what: string, turnsMax: number, timeMs = LOOP_TIME_MS_DEFAULT): LoopBound {
  return new LoopBound(what, turnsMax, timeMs);
}

/**
 * A position a loop advances, checked to move forward on every turn (reads by queue offset or
 * physical offset): fails at once, with where it stuck, instead of waiting for the bounds.
 */
export function expectProgress(what: string, from: number, to: number): number {
  if (!(to > from)) throw new Error(`${what}: no progress at ${from} (next position ${to})`);
  return to;
}
