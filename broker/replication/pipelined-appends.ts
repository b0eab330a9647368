// The slave's appends of one replication stream that are being written (and, under sync flush,
// fsynced) in the background while the next chunks arrive: chunks that arrive during an fsync then
// share the next one instead of each waiting for its own. The store places each append
// synchronously (offsets checked and advanced in call order), so order holds; this only bounds the
// bytes in flight and carries the first failure to the stream.
import { ConveyorError, ErrorCode, isConveyorError } from '../../common/errors.js';
import type { SlaveStore } from './store-port.js';

/**
 * The appends of one stream that are written or fsynced in the background, oldest first. The first
 * failure cancels the stream (the session then ends with that error); nothing is started after it.
 */
export class PipelinedAppends {
  private readonly pending: Array<{ bytes: number; done: Promise<void> }> = [];
  private bytesInFlight = 0;
  error: ConveyorError | undefined;

  constructor(private readonly bytesMax: number, private readonly onError: () => void) {}

  start(store: SlaveStore, physicalOffset: number, data: Uint8Array, onAppended: () => void): void {
    if (this.error !== undefined) return;
    let appended: Promise<void>;
    try {
      appended = store.appendCommitLogBytes(physicalOffset, data);
    } catch (err) {
      appended = Promise.reject(err);
    }
    const entry = { bytes: data.byteLength, done: Promise.resolve() };
    entry.done = appended.then(onAppended, (err: unknown) => {
      this.error ??= isConveyorError(err) ? err : new ConveyorError(ErrorCode.INTERNAL, `append of replicated bytes failed: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
      this.onError();
    }).finally(() => {
      this.bytesInFlight -= entry.bytes;
      this.pending.splice(this.pending.indexOf(entry), 1);
    });
    this.pending.push(entry);
    this.bytesInFlight += entry.bytes;
  }

  /** Waits while more than the limit is in flight; throws the first append error. */
  async belowLimit(): Promise<void> {
    while (this.bytesInFlight > this.bytesMax && this.pending[0] !== undefined) await this.pending[0].done;
    if (this.error !== undefined) throw this.error;
  }

  /** Waits for every append; throws the first append error. */
  async drained(): Promise<void> {
    await this.settled();
    if (this.error !== undefined) throw this.error;
  }

  /** Waits for every append, whatever its outcome. */
  async settled(): Promise<void> {
    while (this.pending[0] !== undefined) await this.pending[0].done;
  }
}

