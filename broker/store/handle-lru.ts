// The bookkeeping of the store's open-file cache (file-handle-cache.ts), with no I/O: which files
// hold a descriptor (open, being opened, or being closed), in least-recently-used order, how many
// users pin each one, and which file to close next when the budget is reached. A pinned file is
// never chosen; a file being closed still counts until its close has finished, so the number of
// descriptors the store holds never exceeds the budget.

interface Entry {
  pins: number;
  closing: boolean;
}

export class HandleLru<K> {
  /** Insertion order is use order: the first entry is the least recently used. */
  private readonly entries = new Map<K, Entry>();

  constructor(readonly budget: number) {
    if (!Number.isSafeInteger(budget) || budget < 1) throw new RangeError(`handle budget must be a positive integer, got ${budget}`);
  }

  /** Descriptors held: open, being opened and being closed. */
  get size(): number {
    return this.entries.size;
  }

  /** No descriptor can be taken before one is closed. */
  get full(): boolean {
    return this.entries.size >= this.budget;
  }

  /** Holds a descriptor (or is about to, or is closing it). */
  has(key: K): boolean {
    return this.entries.has(key);
  }

  isClosing(key: K): boolean {
    return this.entries.get(key)?.closing === true;
  }

  pins(key: K): number {
    return this.entries.get(key)?.pins ?? 0;
  }

  /** A descriptor is being taken for key (the caller checked `full`); it starts pinned once, as most recently used. */
  addPinned(key: K): void {
    if (this.entries.has(key)) throw new Error('handle-lru: key added twice');
    if (this.full) throw new Error(`handle-lru: budget of ${this.budget} reached`);
    this.entries.set(key, { pins: 1, closing: false });
  }

  /** One more user of an open key; it becomes the most recently used. */
  pin(key: K): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.closing) throw new Error('handle-lru: pin of a key that is not open');
    entry.pins++;
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  /** One user fewer; returns the pins left. */
  unpin(key: K): number {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.pins === 0) throw new Error('handle-lru: unpin without pin');
    entry.pins--;
    return entry.pins;
  }

  /** The least recently used key that nobody pins and that is not already closing. */
  nextToClose(): K | undefined {
    for (const [key, entry] of this.entries) {
      if (entry.pins === 0 && !entry.closing) return key;
    }
    return undefined;
  }

  /** The key's close has started: it can no longer be pinned but still holds its descriptor. */
  beginClose(key: K): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.pins > 0 || entry.closing) throw new Error('handle-lru: close of a pinned or closing key');
    entry.closing = true;
  }

  /** The key's descriptor is gone (closed, or its open failed). */
  remove(key: K): void {
    this.entries.delete(key);
  }
}
