// The Appender (DESIGN.md §10, docs/broker.md "Send: the front and the Appender"): the one way a
// message gets into this broker's commit log. The producer-facing send front and every broker-side
// writer (system topics: retries, dead letters, scheduled messages, transactions) call it:
//   validate (limits of common/limits.ts, measured by the record codec) → store append (encode,
//   write; under sync flush the store answers after the fsync) → sync replication wait → result.
// It stores exactly the message id and properties it is given and knows nothing of producer
// de-duplication: it never consults or fills the dedup window, so a broker-side re-append of a
// message with its original id is stored again. It refuses every write on a slave (NOT_MASTER).
//
// Two steps, and the whole: `append` (stored on this broker) and `replicated` (the sync
// replication wait) are separate because the send front remembers ids in its window between them;
// `write` is both, for writers that have nothing to do in between.
import { ConveyorError, ErrorCode, errorCodeName } from '../../common/errors.js';
import { conveyor } from '../../proto/index.js';
import type { BrokerMetrics } from '../metrics.js';
import type { ReplicationView, ReplicationWaitCode } from '../replication/index.js';
import { deadlineRemainingMs } from '../services/deadline.js';
import type { AppendResult, StoreMessageInput } from '../store/index.js';
import { validateAppendBatch } from '../validate.js';

/**
 * What the Appender needs of the store (the port): MessageStore implements it; unit tests use an
 * in-memory double. One batch into one queue with contiguous queue offsets, every limit checked
 * before anything is written; the promise settles once the batch is written (async flush) or
 * fsynced (sync flush). `measuredSizes`: the record size of each message, as measured by the codec.
 */
export interface AppendStore {
  append(topic: string, queueId: number, messages: StoreMessageInput[], measuredSizes?: readonly number[]): Promise<AppendResult[]>;
}

/** A wall-clock deadline: a unary gRPC call, a stream frame's FrameCall, or none. */
export interface DeadlineSource {
  getDeadline(): Date | number;
}

/**
 * A sync write stops waiting for its slave this long before its deadline, so the answer
 * (SLAVE_TIMEOUT: stored on the master) reaches the client before it gives up on the call.
 */
export const SYNC_WAIT_DEADLINE_MARGIN_MS = 200;

export interface AppenderOptions {
  store: AppendStore;
  /** The broker's name and id (ServiceContext.identity's; a type of its own, so this module does not import the services' context, which imports it). */
  identity: { readonly brokerName: string; readonly brokerId: number };
  /** `sync` is set on a master in sync replication mode. */
  replication: Pick<ReplicationView, 'sync'>;
  metrics: Pick<BrokerMetrics, 'syncReplication'>;
}

/** A whole write: where each message went and the replication wait's answer (OK under async replication). */
export interface Written {
  readonly status: ReplicationWaitCode;
  readonly results: AppendResult[];
}

export class Appender {
  constructor(private readonly options: AppenderOptions) {}

  /** Throws NOT_MASTER on a slave: it holds a copy of its master's log and takes no writes. */
  requireMaster(): void {
    const { identity } = this.options;
    if (identity.brokerId === 0) return;
    throw new ConveyorError(
      ErrorCode.NOT_MASTER,
      `broker ${identity.brokerName} id ${identity.brokerId} is a slave and takes no writes; send to the master (id 0) of the group`,
      { brokerName: identity.brokerName, brokerId: identity.brokerId },
    );
  }

  /**
   * Step one: stores a validated batch in one store append; one result per message in order.
   * `sizes` is what validateAppendBatch (or validateSendBatch, which runs it) returned for exactly
   * these messages. Not an async function: it hands back the store's promise (no extra promise
   * per append on the send path).
   */
  append(topic: string, queueId: number, messages: StoreMessageInput[], sizes: readonly number[]): Promise<AppendResult[]> {
    try {
      this.requireMaster();
      return this.options.store.append(topic, queueId, messages, sizes);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Step two: under sync replication on a master, waits until a slave has flushed everything
   * below `physicalOffsetEnd`, for at most replicationTimeoutMs and never past the deadline minus
   * SYNC_WAIT_DEADLINE_MARGIN_MS; answers OK, SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE (the last two:
   * stored on the master, not known to be replicated). Async replication: OK at once. Never rejects.
   */
  async replicated(physicalOffsetEnd: number, deadline?: DeadlineSource): Promise<ReplicationWaitCode> {
    const sync = this.options.replication.sync;
    if (sync === undefined) return conveyor.ErrorCode.OK;
    const timeoutMs = Math.min(sync.timeoutMs, deadlineRemainingMs(deadline, Date.now()) - SYNC_WAIT_DEADLINE_MARGIN_MS);
    const code = await sync.waitForReplication(physicalOffsetEnd, timeoutMs);
    this.options.metrics.syncReplication.inc({ status: errorCodeName(code) });
    return code;
  }

  /**
   * Both steps for a broker-side writer: validates the batch (names, ids, keys, tag, properties,
   * body and batch limits: nothing is stored on error), stores it with the ids and properties as
   * given, and waits for replication. Throws NOT_MASTER on a slave.
   */
  async write(topic: string, queueId: number, messages: StoreMessageInput[], deadline?: DeadlineSource): Promise<Written> {
    this.requireMaster();
    const sizes = validateAppendBatch(topic, messages);
    const results = await this.append(topic, queueId, messages, sizes);
    if (results.length !== messages.length) throw new Error(`assertion failed: store returned ${results.length} results for ${messages.length} messages`);
    let end = 0;
    for (const r of results) end = Math.max(end, r.physicalOffset + r.size);
    return { status: await this.replicated(end, deadline), results };
  }
}
