// Offsets of a broadcasting member, kept in a local JSON file (each member reads every message,
// so the broker keeps no offsets for it). Default file: ~/.conveyor/offsets/<group>.json.
// Format (version 1): {"version":1,"group":"g","offsets":{"<topic>@<broker>#<queueId>":42}}.
// Writes replace the file atomically (temporary file + rename), on flush only.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConveyorError, ErrorCode } from '../../common/errors.js';
import type { OffsetPlace, OffsetStore } from './offset-store.js';
import { queueKey, type MessageQueue } from '../routing/route.js';

const LOCAL_OFFSET_FORMAT_VERSION = 1;
/** Queues one file holds: a broadcasting member reads every queue of its topics, never this many. */
const LOCAL_OFFSET_ENTRIES_MAX = 100_000;

function defaultOffsetDir(): string {
  return join(homedir(), '.conveyor', 'offsets');
}

export class LocalOffsetStore implements OffsetStore {
  private readonly offsets = new Map<string, number>();
  private loaded = false;
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();
  readonly file: string;

  constructor(private readonly group: string, directory: string = defaultOffsetDir()) {
    this.file = join(directory, `${group}.json`);
  }

  async read(queue: MessageQueue): Promise<number | undefined> {
    await this.load();
    return this.offsets.get(queueKey(queue));
  }

  async write(queue: MessageQueue, offset: number): Promise<OffsetPlace> {
    await this.load();
    const key = queueKey(queue);
    if (!this.offsets.has(key) && this.offsets.size >= LOCAL_OFFSET_ENTRIES_MAX) {
      throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `local offset file ${this.file} already holds ${LOCAL_OFFSET_ENTRIES_MAX} queues`, { file: this.file });
    }
    if (this.offsets.get(key) === offset) return 'home';
    this.offsets.set(key, offset);
    this.dirty = true;
    return 'home';
  }

  /** Writes the file if anything changed (serialised: one write at a time). */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeFile());
    return this.writing;
  }

  private async writeFile(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const content = JSON.stringify({ version: LOCAL_OFFSET_FORMAT_VERSION, group: this.group, offsets: Object.fromEntries([...this.offsets].sort()) }, null, 1);
    const temporary = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFile(temporary, content);
      await rename(temporary, this.file);
    } catch (err) {
      this.dirty = true;
      throw new ConveyorError(ErrorCode.INTERNAL, `cannot write local offsets to ${this.file}: ${err instanceof Error ? err.message : String(err)}`, { file: this.file }, { cause: err });
    }
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.loaded = true;
        return;
      }
      throw new ConveyorError(ErrorCode.INTERNAL, `cannot read local offsets from ${this.file}: ${err instanceof Error ? err.message : String(err)}`, { file: this.file }, { cause: err });
    }
    const parsed = parseOffsetFile(text, this.file);
    for (const [key, offset] of Object.entries(parsed)) this.offsets.set(key, offset);
    this.loaded = true;
  }
}

function parseOffsetFile(text: string, file: string): Record<string, number> {
  const bad = (why: string): ConveyorError =>
    new ConveyorError(ErrorCode.CONFIG_INVALID, `local offset file ${file} is not valid (${why}); fix or delete it to start over from the consumer's start position`, { file });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const record = value as { version?: unknown; offsets?: unknown };
  if (record.version !== LOCAL_OFFSET_FORMAT_VERSION) throw bad(`version ${String(record.version)}, expected ${LOCAL_OFFSET_FORMAT_VERSION}`);
  if (typeof record.offsets !== 'object' || record.offsets === null) throw bad('no offsets object');
  const out: Record<string, number> = {};
  for (const [key, offset] of Object.entries(record.offsets)) {
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw bad(`offset of ${key} is not a whole number >= 0`);
    out[key] = offset;
  }
  return out;
}
