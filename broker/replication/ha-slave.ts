// Slave side of replication: keeps one Replicate stream open to the master. Each stream starts
// with a flush (so that "durable" and "written" agree), the handshake and the slave's offset; the
// master's bytes are appended at the same physical offsets (the store dispatches them into the
// slave's own consume queues); the durable offset is reported after every flush and on an
// interval. A broken or silent stream is reopened with backoff. Protocol: docs/replication.md.
import * as grpc from '@grpc/grpc-js';
import { ReplicationService, type conveyor } from '../../proto/index.js';
import { ConveyorError, ErrorCode, isConveyorError } from '../../common/errors.js';
import { CHANNEL_OPTIONS, fromServiceError } from '../../common/grpc.js';
import type { Logger } from '../../common/logging.js';
import { slaveHandshake, type ReplicationIdentity } from './handshake.js';
import { OffsetTimeline } from './offset-timeline.js';
import { needsOperator, reconnectDelayMs } from './reconnect-backoff.js';
import type { SlaveStore } from './store-port.js';
import { PipelinedAppends } from './pipelined-appends.js';
import { WakeSignal } from './wake-signal.js';

/** A slave reports its durable offset at least this often, even when idle (the master's in-sync test). */
export const SLAVE_REPORT_INTERVAL_MS = 1_000;
/** No message from the master for this long (keepalives come every second): the stream is dead, reopen it. */
export const MASTER_SILENCE_MS_MAX = 5_000;
/**
 * Copied bytes handed to the store and not yet written (sync flush: not yet fsynced) before the
 * slave stops taking chunks from the stream: enough for a few 1 MiB chunks to share one fsync,
 * small next to the store's 256 MiB append queue; past it HTTP/2 flow control slows the master.
 */
const SLAVE_APPEND_BYTES_IN_FLIGHT_MAX = 8 * 1024 * 1024;
/**
 * HTTP/2 receive window a slave under sync replication grants its master (per stream and per
 * connection) instead of the protocol's 64 KiB (what grpc-js gives a client unless told
 * otherwise; the slave is the client of the Replicate stream). With 64 KiB a chunk of a sync
 * produce round (~280 KB: 256 single sends of 1 KiB) crossed in five pieces, each waiting for the
 * slave's event loop to read and send a WINDOW_UPDATE, while every send of the round waited for
 * it; with 8 MiB a chunk crosses in one piece (docs/replication.md, "A sync produce round, step by
 * step"). It bounds only bytes the slave has
 * not read yet: the stream pauses past SLAVE_APPEND_BYTES_IN_FLIGHT_MAX, so at most this much more
 * waits unread. Under async replication nothing waits for the transit and the slave keeps the
 * default: a slave that keeps up during batched produce takes the CPU a 2-core machine needs for
 * the sends (docs/replication.md, same section).
 */
export const REPLICATION_FLOW_CONTROL_WINDOW_BYTES = 8 * 1024 * 1024;

interface ReplicationSlaveOptions {
  store: SlaveStore;
  /** host:port of the master's gRPC server (Replication is served next to Broker); undefined until known. */
  masterAddress: string | undefined;
  identity: ReplicationIdentity;
  brokerId: number;
  log: Logger;
  clock?: () => number;
  reportIntervalMs?: number;
  masterSilenceMsMax?: number;
  /**
   * Flush right after each append (default true) so that acknowledgements, and sync sends on the
   * master, do not wait for the slave's flush interval.
   */
  flushAfterAppend?: boolean;
  /** In [0, 1), for backoff jitter. */
  random?: () => number;
  /** Tests only: SLAVE_APPEND_BYTES_IN_FLIGHT_MAX. */
  appendBytesInFlightMax?: number;
  /**
   * HTTP/2 receive window granted to the master (REPLICATION_FLOW_CONTROL_WINDOW_BYTES under sync
   * replication); default grpc-js's 64 KiB.
   */
  flowControlWindowBytes?: number;
}

export interface SlaveLagView {
  bytes: number;
  ms: number;
}

export interface SlaveStatus extends SlaveLagView {
  connected: boolean;
  masterAddress: string | undefined;
  masterMaxPhysicalOffset: number;
  /** Last durable offset reported to the master. */
  reportedPhysicalOffset: number;
  /** Streams opened since start. */
  streamsOpened: number;
  lastError: { code: string; message: string } | undefined;
}

interface SessionOutcome {
  receivedAny: boolean;
  error: ConveyorError | undefined;
}

type ReplicateStream = grpc.ClientDuplexStream<conveyor.ISlaveReport, conveyor.ReplicationData>;

export class ReplicationSlave {
  private readonly clock: () => number;
  private readonly timeline = new OffsetTimeline();
  private readonly kick = new WakeSignal();
  private readonly channelOptions: grpc.ChannelOptions;
  private client: { address: string; client: grpc.Client } | undefined;
  private call: ReplicateStream | undefined;
  private running: Promise<void> | undefined;
  private flushLoop: Promise<void> | undefined;
  private flushWanted = false;
  private closed = false;
  private masterMax = 0;
  private reported = 0;
  private streamsOpened = 0;
  private lastError: ConveyorError | undefined;
  connected = false;

  constructor(private readonly options: ReplicationSlaveOptions) {
    this.clock = options.clock ?? Date.now;
    const window = options.flowControlWindowBytes;
    this.channelOptions = window === undefined ? CHANNEL_OPTIONS : { ...CHANNEL_OPTIONS, 'grpc-node.flow_control_window': window };
  }

  get masterAddress(): string | undefined {
    return this.options.masterAddress;
  }

  get masterMaxPhysicalOffset(): number {
    return this.masterMax;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** The master moved (or became known): drop the current stream and connect there at once. */
  setMasterAddress(address: string | undefined): void {
    if (address === this.options.masterAddress) return;
    this.options.log.info({ from: this.options.masterAddress, to: address }, 'master address changed');
    this.options.masterAddress = address;
    this.call?.cancel();
    this.kick.notify();
  }

  /** A gRPC client to the current master, for the metadata copy. Throws SERVICE_UNAVAILABLE when none is known. */
  masterClient(): grpc.Client {
    const address = this.options.masterAddress;
    if (address === undefined) throw new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, 'the master address is not known yet (no nameserver registration answered it)', {});
    return this.clientFor(address);
  }

  /** Slave view: master max (as last heard) minus own max, and how long ago the master held the first missing byte. */
  lag(): SlaveLagView {
    const own = this.options.store.maxPhysicalOffset;
    return { bytes: Math.max(0, this.masterMax - own), ms: this.timeline.lagMs(own, this.clock()) };
  }

  status(): SlaveStatus {
    return {
      ...this.lag(),
      connected: this.connected,
      masterAddress: this.options.masterAddress,
      masterMaxPhysicalOffset: this.masterMax,
      reportedPhysicalOffset: this.reported,
      streamsOpened: this.streamsOpened,
      lastError: this.lastError === undefined ? undefined : { code: this.lastError.codeName, message: this.lastError.message },
    };
  }

  /** Stops: closes the stream, waits for an append or flush in flight, closes the channel. */
  async close(): Promise<void> {
    this.closed = true;
    this.call?.cancel();
    this.kick.notify();
    await this.running;
    await this.flushLoop;
    this.client?.client.close();
    this.client = undefined;
  }

  private clientFor(address: string): grpc.Client {
    if (this.client?.address !== address) {
      this.client?.client.close();
      this.client = { address, client: new grpc.Client(address, grpc.credentials.createInsecure(), this.channelOptions) };
    }
    return this.client.client;
  }

  private async run(): Promise<void> {
    const { log } = this.options;
    let failures = 0;
    let loggedCode: ErrorCode | undefined;
    while (!this.closed) {
      const since = this.kick.current;
      const address = this.options.masterAddress;
      if (address === undefined) {
        await this.kick.wait(since, Infinity);
        continue;
      }
      const outcome = await this.session(address);
      if (this.closed) break;
      const error = outcome.error;
      this.lastError = error;
      failures = outcome.receivedAny ? 1 : failures + 1;
      if (error !== undefined && error.code !== loggedCode) {
        const fields = { master: address, code: error.codeName, err: error.message, ...error.fields };
        if (needsOperator(error.code)) log.error(fields, 'replication refused; the slave needs an operator');
        else log.warn(fields, 'replication stream broke; reconnecting');
      }
      loggedCode = error?.code;
      if (address !== this.options.masterAddress) continue;
      const delayMs = reconnectDelayMs(failures, error?.code, (this.options.random ?? Math.random)());
      await this.kick.wait(since, delayMs);
    }
  }

  /** One stream, from open to end. Never throws. */
  private async session(address: string): Promise<SessionOutcome> {
    const { store, log } = this.options;
    let receivedAny = false;
    try {
      await store.flushCommitLog(); // the offset reported below must be durable, not only written
    } catch (err) {
      return { receivedAny, error: asConveyorError(err, 'flush before replication failed') };
    }
    if (this.closed || address !== this.options.masterAddress) return { receivedAny, error: undefined };
    const start = store.maxPhysicalOffset;
    const call: ReplicateStream = this.clientFor(address).makeBidiStreamRequest(
      ReplicationService.replicate.path,
      ReplicationService.replicate.requestSerialize,
      ReplicationService.replicate.responseDeserialize,
      new grpc.Metadata(),
      {},
    );
    call.on('error', () => undefined); // read through the iterator below; this keeps late errors from crashing
    this.call = call;
    this.streamsOpened += 1;
    this.reported = start;
    let lastMessageMs = this.clock();
    let localError: ConveyorError | undefined;
    const appends = new PipelinedAppends(this.options.appendBytesInFlightMax ?? SLAVE_APPEND_BYTES_IN_FLIGHT_MAX, () => call.cancel());
    const silenceMaxMs = this.options.masterSilenceMsMax ?? MASTER_SILENCE_MS_MAX;
    const report = (always: boolean): void => {
      const durable = Math.max(this.reported, store.flushedPhysicalOffset);
      if (durable === this.reported && !always) return;
      this.reported = durable;
      call.write({ durablePhysicalOffset: durable });
    };
    const offFlushed = store.onFlushed(() => report(false));
    const ticker = setInterval(() => {
      if (this.clock() - lastMessageMs > silenceMaxMs) {
        localError = new ConveyorError(ErrorCode.TIMEOUT, `no message from the master for ${silenceMaxMs} ms; reopening the stream`, { master: address });
        call.cancel();
        return;
      }
      report(true);
    }, this.options.reportIntervalMs ?? SLAVE_REPORT_INTERVAL_MS);
    try {
      call.write({ handshake: slaveHandshake(this.options.identity, this.options.brokerId), durablePhysicalOffset: start });
      for await (const message of call as AsyncIterable<conveyor.ReplicationData>) {
        lastMessageMs = this.clock();
        if (!this.connected) {
          this.connected = true;
          this.lastError = undefined; // accepted: whatever ended the previous stream is over
          log.info({ master: address, startPhysicalOffset: start, masterMaxPhysicalOffset: message.masterMaxPhysicalOffset }, 'replicating from master');
        }
        this.noteMasterMax(message.masterMaxPhysicalOffset);
        if (message.data.length === 0) continue;
        // Pipelined: the next chunk is taken while this one is written (and, under sync flush,
        // fsynced), so chunks that arrive during an fsync share the next one. Appends are placed in
        // call order (the store checks and advances its offsets synchronously); bounded by bytes.
        appends.start(store, message.physicalOffset, message.data, () => {
          receivedAny = true;
          this.requestFlush();
        });
        await appends.belowLimit();
      }
      await appends.drained();
      if (this.closed) return { receivedAny, error: undefined };
      return { receivedAny, error: new ConveyorError(ErrorCode.SERVICE_UNAVAILABLE, 'the master ended the replication stream', { master: address }) };
    } catch (err) {
      // Nothing may still be appending when the next stream starts from the store's end.
      await appends.settled();
      if (this.closed) return { receivedAny, error: undefined };
      return { receivedAny, error: localError ?? appends.error ?? (isConveyorError(err) ? err : fromServiceError(err, address)) };
    } finally {
      clearInterval(ticker);
      offFlushed();
      this.connected = false;
      this.call = undefined;
      call.cancel();
    }
  }

  private noteMasterMax(masterMax: number): void {
    if (masterMax < this.timeline.latestOffset) this.timeline.reset(); // a master that lost its tail, or another master
    this.masterMax = masterMax;
    this.timeline.record(masterMax, this.clock());
  }

  /** Flushes until everything appended is durable; one loop at a time (a slave's group commit). */
  private requestFlush(): void {
    if (this.options.flushAfterAppend === false) return;
    this.flushWanted = true;
    this.flushLoop ??= (async () => {
      while (this.flushWanted && !this.closed) {
        this.flushWanted = false;
        try {
          await this.options.store.flushCommitLog();
        } catch (err) {
          this.options.log.warn({ err: asConveyorError(err, 'flush failed').message }, 'slave flush after append failed');
          return;
        }
      }
    })().finally(() => {
      this.flushLoop = undefined;
    });
  }
}

function asConveyorError(err: unknown, what: string): ConveyorError {
  return isConveyorError(err) ? err : new ConveyorError(ErrorCode.INTERNAL, `${what}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
}
