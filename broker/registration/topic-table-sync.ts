// Which nameservers hold this broker's topic table at its current data version: the pure core of
// "full registration or light heartbeat" (docs/nameserver.md, Registration). No I/O; the clock is
// injected. A nameserver gets the full table when it has not acknowledged the current version
// (first contact, a topic change since, a failed call) or when its answer asks for it; otherwise
// the heartbeat carries only the version.
import { initialDataVersion, nextDataVersion, sameDataVersion, type DataVersion } from '../../common/data-version.js';

export type RegistrationKind = 'full' | 'light';

/** What the shell does after an answer: nothing more this round, or a full registration at once. */
export type AfterAnswer = 'done' | 'send-full';

export interface TopicTableSyncOptions {
  /** Random per process start (common/data-version.ts newEpoch): a restart never repeats a version. */
  epoch: number;
  clock: () => number;
}

export class TopicTableSync {
  private current: DataVersion;
  /** Per nameserver address: the version it acknowledged holding. Absent: send the full table. */
  private readonly acknowledged = new Map<string, DataVersion>();

  constructor(private readonly options: TopicTableSyncOptions) {
    this.current = initialDataVersion(options.epoch, options.clock());
  }

  get version(): Readonly<DataVersion> {
    return this.current;
  }

  /** The topic table changed (create, update, delete): a new version, so every nameserver gets it in full. */
  changed(): Readonly<DataVersion> {
    this.current = nextDataVersion(this.current, this.options.clock());
    return this.current;
  }

  /** Full when this nameserver has not acknowledged the current version, light otherwise. */
  plan(nameserver: string): RegistrationKind {
    const held = this.acknowledged.get(nameserver);
    return held !== undefined && sameDataVersion(held, this.current) ? 'light' : 'full';
  }

  /**
   * A nameserver answered a registration sent at `sent`. Asked for the table: it holds nothing
   * for this version, so the full table goes at once. Otherwise it now holds `sent` (a full
   * registration stored it; a light one confirmed it), which may already be older than the
   * current version if the table changed meanwhile: then the next plan is full again.
   */
  answered(nameserver: string, sent: DataVersion, topicTableWanted: boolean): AfterAnswer {
    if (topicTableWanted) {
      this.acknowledged.delete(nameserver);
      return 'send-full';
    }
    this.acknowledged.set(nameserver, { ...sent });
    return 'done';
  }

  /**
   * A call failed (unreachable, deadline, rejected): whether it stored anything is unknown, and a
   * nameserver that was down may have restarted, so the next registration there is full.
   */
  failed(nameserver: string): void {
    this.acknowledged.delete(nameserver);
  }

  /** The address left the nameserver list. */
  forget(nameserver: string): void {
    this.acknowledged.delete(nameserver);
  }
}
