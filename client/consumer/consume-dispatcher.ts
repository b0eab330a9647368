// Runs handlers with bounded concurrency. Work arrives per pull (messages of one queue, in offset
// order) and is started in arrival order; a message is "done" for its queue when its handler
// resolves. A handler that throws is tried again locally after a growing delay, up to a bound;
// after the last retry the message is given up (logged at warn and counted) so that its queue can
// go on — sending it back to a retry topic and a dead-letter topic is a later capability.
import type { Logger } from '../../common/logging.js';
import type { Message } from '../message.js';
import type { ProcessQueue } from './process-queue.js';

/** Retries of one message after its first failure. */
export const CONSUME_RETRIES_DEFAULT = 16;
/** First retry delay; each next retry waits twice as long, up to the maximum. */
export const CONSUME_RETRY_BASE_DELAY_MS_DEFAULT = 1_000;
export const CONSUME_RETRY_MAX_DELAY_MS_DEFAULT = 60_000;

/** The delay before retry number `attempt` (1-based): base · 2^(attempt-1), capped. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
}

/** Compact the ready FIFO once this many taken (cleared) slots sit before its head: one copy per many tasks, not one shift per task. */
const READY_COMPACT_AFTER_TASKS = 1_024;

interface Task {
  readonly processQueue: ProcessQueue;
  readonly messages: Message[];
  /** Failed attempts so far. */
  failures: number;
}

interface DispatcherOptions {
  concurrency: number;
  /** Handles a task's messages; messages.length is 1 for a per-message handler. */
  handle: (messages: Message[]) => Promise<void>;
  /** Messages per task (1 for a per-message handler). */
  batchSize: number;
  retries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  log: Logger;
}

export class ConsumeDispatcher {
  /**
   * FIFO of tasks ready to run; bounded by the per-queue cache limits (a pull never asks for more
   * than fits). A taken slot is cleared at once: a task that ran must not keep its messages (and
   * the pull answers their bodies point into) alive until the next compaction.
   */
  private ready: Array<Task | undefined> = [];
  private readyHead = 0;
  private running = 0;
  private stopped = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private idleWaiters: Array<() => void> = [];
  private givenUp = 0;
  private handled = 0;

  constructor(private readonly options: DispatcherOptions) {}

  get stats(): { running: number; ready: number; handled: number; givenUp: number; retrying: number } {
    return { running: this.running, ready: this.ready.length - this.readyHead, handled: this.handled, givenUp: this.givenUp, retrying: this.retryTimers.size };
  }

  /** Queues a pull's messages (one queue, offset order) for the handler. */
  submit(processQueue: ProcessQueue, messages: readonly Message[]): void {
    if (this.stopped) return;
    for (let i = 0; i < messages.length; i += this.options.batchSize) {
      this.ready.push({ processQueue, messages: messages.slice(i, i + this.options.batchSize), failures: 0 });
    }
    this.pump();
  }

  /** Takes no more work: tasks not started and pending retries are dropped (they stay unfinished, so uncommitted). */
  stop(): void {
    this.stopped = true;
    this.ready = [];
    this.readyHead = 0;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.notifyIdle();
  }

  /** Resolves once no handler is running. */
  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.concurrency && this.readyHead < this.ready.length) {
      const task = this.ready[this.readyHead] as Task;
      this.ready[this.readyHead++] = undefined;
      if (this.readyHead >= READY_COMPACT_AFTER_TASKS && this.readyHead * 2 >= this.ready.length) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      // A queue that moved away or stopped: its waiting messages are skipped, the next owner reads them.
      if (task.processQueue.dropped) continue;
      void this.run(task);
    }
  }

  private async run(task: Task): Promise<void> {
    const { processQueue, messages } = task;
    this.running++;
    processQueue.handlerStarted();
    let ok = false;
    try {
      await this.options.handle(messages);
      ok = true;
    } catch (err) {
      task.failures++;
      const first = messages[0];
      if (task.failures > this.options.retries) {
        this.givenUp += messages.length;
        this.options.log.warn({ topic: first?.topic, queueId: first?.queueId, queueOffset: first?.queueOffset, messageId: first?.messageId, failures: task.failures, err }, 'handler failed on every retry, message given up');
        ok = true;
      } else {
        const delayMs = retryDelayMs(task.failures, this.options.retryBaseDelayMs, this.options.retryMaxDelayMs);
        this.options.log.debug({ messageId: first?.messageId, failures: task.failures, delayMs, err }, 'handler failed, retrying later');
        this.scheduleRetry(task, delayMs);
      }
    } finally {
      this.running--;
      if (ok) {
        this.handled += messages.length;
        for (const message of messages) processQueue.complete(message.queueOffset);
      }
      processQueue.handlerEnded();
      if (this.running === 0) this.notifyIdle();
      this.pump();
    }
  }

  private scheduleRetry(task: Task, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.stopped || task.processQueue.dropped) return;
      this.ready.push(task);
      this.pump();
    }, delayMs);
    this.retryTimers.add(timer);
  }

  private notifyIdle(): void {
    if (this.running !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
