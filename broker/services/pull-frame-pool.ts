// Reusable buffers for pull answers that go out on a PullStream. A pull answer is read into one
// buffer of its size (read-path.ts), written in place around its records (pull-response.ts) and
// handed to grpc-js, which copies it into its own frame before the stream write's callback runs
// (server-interceptors.js sendMessage: serializeMessage, then the HTTP/2 write). A fresh buffer per
// answer of ~1 MiB is external memory V8 counts toward its next full GC (a mark of the whole heap,
// the dedup window included, on its helper threads) and first-touched pages the kernel has to
// fault in (docs/performance.md, consume track). The stream handler
// gives the buffer back once the write's callback has run (stream-handlers.ts), so the next
// answer reuses it. A buffer never given back (a unary answer, a cancelled stream, an error) is
// simply collected: the pool only lends what it can tell is free again.

/**
 * Capacity of one pooled buffer: a 1,024-record answer of 1 KiB messages (the consumers' usual
 * pull, ~1.1 MiB with the response header) fits, as does one of 1,024 records up to ~2 KiB. Larger
 * answers get a buffer of their own.
 */
const PULL_FRAME_POOL_BUFFER_BYTES = 2 * 1024 * 1024;
/**
 * Answers smaller than this are not worth a pooled buffer: Node serves them from its own slab or a
 * small allocation, and a long-poll answer of one message would hold 2 MiB.
 */
const PULL_FRAME_POOL_MIN_BYTES = 64 * 1024;
/**
 * Free buffers kept: one per queue a consumer typically pulls at once from this broker (8) plus as
 * many again for answers still queued in HTTP/2; bounds the pool's idle memory to 32 MiB.
 */
const PULL_FRAME_POOL_IDLE_MAX = 16;

export class PullFramePool {
  private readonly idle: ArrayBuffer[] = [];
  /** Buffers lent and not yet given back; weak, so a buffer never given back is collected as usual. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private created = 0;
  private reused = 0;

  constructor(
    private readonly bufferBytes = PULL_FRAME_POOL_BUFFER_BYTES,
    private readonly minBytes = PULL_FRAME_POOL_MIN_BYTES,
    private readonly idleMax = PULL_FRAME_POOL_IDLE_MAX,
  ) {}

  /** A buffer of exactly `bytes` (uninitialised): a view of a pooled buffer when the size suits one, a fresh buffer otherwise. */
  take(bytes: number): Buffer {
    if (bytes < this.minBytes || bytes > this.bufferBytes) return Buffer.allocUnsafe(bytes);
    let block = this.idle.pop();
    if (block === undefined) {
      block = Buffer.allocUnsafeSlow(this.bufferBytes).buffer as ArrayBuffer;
      this.created++;
    } else {
      this.reused++;
    }
    this.lent.add(block);
    return Buffer.from(block, 0, bytes);
  }

  /**
   * Takes back the pooled buffer under `view` once nothing will read it again. Anything else (a
   * fresh buffer, one given back already) is ignored, so a buffer is never lent twice at once.
   */
  give(view: Uint8Array): void {
    const block = view.buffer as ArrayBuffer;
    if (!this.lent.has(block)) return;
    this.lent.delete(block);
    if (this.idle.length < this.idleMax) this.idle.push(block);
  }

  /** Buffers created and loans served from a given-back buffer, and buffers free now (tests, metrics). */
  get stats(): { created: number; reused: number; idle: number } {
    return { created: this.created, reused: this.reused, idle: this.idle.length };
  }
}
