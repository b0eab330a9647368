// Pull: read a queue from an offset, with count/byte caps and a tag filter; when nothing is
// there, hold the call (long polling) until the queue grows, the hold ends or the call is
// cancelled, then read once more. Records go out as the store returned them (no re-encoding), in
// the buffer they were read into (pull-response.ts).
import type * as grpc from '@grpc/grpc-js';
import { ConveyorError, ErrorCode, unreachable } from '../../common/errors.js';
import { validateName } from '../../common/names.js';
import { conveyor } from '../../proto/index.js';
import type { ReadResult } from '../store/types.js';
import { parseTagExpression } from '../consumers/tag-filter.js';
import { isReadable, validateQueueId, validateQueueOffset } from '../validate.js';
import { isMaster, type ServiceContext } from './context.js';
import { deadlineRemainingMs } from './deadline.js';
import { FrameCall } from './frame-call.js';
import { PullFramePool } from './pull-frame-pool.js';
import { EncodedPullResponse, encodePullResponseInPlace, PULL_RESPONSE_HEADROOM_BYTES } from './pull-response.js';
import { SubscriptionCount } from './subscription-count.js';

/** Records per pull when the request leaves max_count at 0: a consumer's usual batch. */
const PULL_COUNT_DEFAULT = 32;
/** Records per pull at most: bounds one answer's decode work on the client. */
export const PULL_COUNT_MAX = 1_024;
/** Bytes per pull when the request leaves max_bytes at 0. */
const PULL_BYTES_DEFAULT = 4 * 1024 * 1024;
/** Bytes per pull at most: a quarter of the gRPC message limit; the first record is returned even if larger. */
export const PULL_BYTES_MAX = 16 * 1024 * 1024;
/** A held pull answers this long before the call's deadline, so the answer arrives before the client gives up. */
export const LONG_POLL_DEADLINE_MARGIN_MS = 1_000;

/** How long to hold a pull that found nothing: min(asked, server cap, deadline − margin), never negative. */
export function longPollHoldMs(requestedMs: number, longPollMaxMs: number, deadlineRemainingMs: number): number {
  return Math.max(0, Math.min(requestedMs, longPollMaxMs, deadlineRemainingMs - LONG_POLL_DEADLINE_MARGIN_MS));
}

function clamp(value: number, fallback: number, max: number): number {
  return value <= 0 ? fallback : Math.min(value, max);
}

function pullStatus(status: ReadResult['status']): conveyor.PullStatus {
  switch (status) {
    case 'found': return conveyor.PullStatus.PULL_FOUND;
    case 'no-new-message': return conveyor.PullStatus.PULL_NO_NEW_MESSAGE;
    case 'no-matched-message': return conveyor.PullStatus.PULL_NO_MATCHED_MESSAGE;
    default: return unreachable(status);
  }
}

/** One queue's reads with a pull's checked caps and filter (PullService.reader). */
export interface QueueReader {
  /** The request's max count, clamped. */
  readonly maxCount: number;
  read(queueOffset: number, maxCount?: number): Promise<ReadResult>;
}

export class PullService {
  /** Buffers of answers that go out on a PullStream, given back by written() (pull-frame-pool.ts). */
  readonly framePool = new PullFramePool();
  private readonly takeFrame = (bytes: number): Buffer => this.framePool.take(bytes);
  /** Pull subscriptions open on this broker (pull-subscription.ts). */
  readonly subscriptions = new SubscriptionCount();

  constructor(private readonly ctx: ServiceContext) {}

  /** The PullStream handler has handed `response` to grpc-js, which copied it: its buffer goes back to the pool. */
  written(response: conveyor.IPullResponse): void {
    if (response instanceof EncodedPullResponse) this.framePool.give(response.encoded);
  }

  async pull(request: conveyor.PullRequest, call?: grpc.ServerUnaryCall<conveyor.PullRequest, conveyor.IPullResponse>): Promise<conveyor.IPullResponse> {
    const { ctx } = this;
    const reader = this.reader(request, call);
    let result = await reader.read(request.queueOffset);
    if (result.status === 'no-new-message' && !ctx.isStopping()) {
      const holdMs = longPollHoldMs(request.maxWaitMs, ctx.longPollMaxMs, deadlineRemainingMs(call, Date.now()));
      if (holdMs > 0) {
        const outcome = await this.waitForMessages(request.topic, request.queueId, request.queueOffset, holdMs, call);
        if (outcome === 'woken') ctx.metrics.longPollWokenEarly.inc();
        if (outcome !== 'cancelled') result = await reader.read(request.queueOffset);
      }
    }
    return this.answer(request.topic, result);
  }

  /**
   * Checks a pull's topic, queue, offset and tag expression (ConveyorError on bad input) and
   * returns a reader of that queue from any offset, with the request's caps. A subscription
   * (pull-subscription.ts) checks once and reads many times.
   */
  reader(request: conveyor.PullRequest, call: grpc.ServerUnaryCall<unknown, unknown> | undefined): QueueReader {
    const { ctx } = this;
    validateName('consumer group', request.consumerGroup);
    validateName('topic', request.topic);
    const topic = ctx.topics.get(request.topic);
    if (topic !== undefined) {
      if (!isReadable(topic.perm)) {
        throw new ConveyorError(ErrorCode.TOPIC_NOT_READABLE, `topic '${topic.topicName}' is not readable on broker ${ctx.identity.brokerName} (perm ${topic.perm})`, { topic: topic.topicName, perm: topic.perm });
      }
      validateQueueId(topic.topicName, request.queueId, topic.readQueueCount, 'read');
    } else if (isMaster(ctx.identity)) {
      ctx.topics.require(request.topic);
    }
    // A slave without the topic's config serves what its store holds (configs are copied later).
    validateQueueOffset(request.queueOffset);
    const filter = parseTagExpression(request.tagExpression);
    const options = {
      maxCount: clamp(request.maxCount, PULL_COUNT_DEFAULT, PULL_COUNT_MAX),
      maxBytes: clamp(request.maxBytes, PULL_BYTES_DEFAULT, PULL_BYTES_MAX),
      headroomBytes: PULL_RESPONSE_HEADROOM_BYTES,
      // Only a stream frame's answer is given back (written()); a unary answer keeps a buffer of its own.
      ...(call instanceof FrameCall ? { allocateFrame: this.takeFrame } : {}),
      ...(filter.tags !== undefined ? { tags: filter.tags } : {}),
    };
    const { topic: topicName, queueId } = request;
    return {
      maxCount: options.maxCount,
      read: (queueOffset, maxCount = options.maxCount) => Promise.resolve(ctx.store.read(topicName, queueId, queueOffset, maxCount === options.maxCount ? options : { ...options, maxCount })),
    };
  }

  /** A read's answer, counted in the metrics; found records are encoded in place around them (pull-response.ts). */
  answer(topic: string, result: ReadResult): conveyor.IPullResponse {
    const { ctx } = this;
    ctx.metrics.pulls.inc({ status: result.status.replaceAll('-', '_') });
    if (result.count > 0) {
      ctx.metrics.messagesOut.inc({ topic }, result.count);
      ctx.metrics.bytesOut.inc({ topic }, result.records.length);
    }
    const fields = {
      status: pullStatus(result.status),
      recordCount: result.count,
      nextQueueOffset: result.nextQueueOffset,
      minQueueOffset: result.minQueueOffset,
      maxQueueOffset: result.maxQueueOffset,
      brokerName: ctx.identity.brokerName,
      brokerId: ctx.identity.brokerId,
    };
    const encoded = result.frame === undefined ? undefined : encodePullResponseInPlace(fields, result.frame, PULL_RESPONSE_HEADROOM_BYTES);
    return encoded ?? { ...fields, records: result.records };
  }

  /**
   * Holds until the queue grows past `queueOffset`, the hold ends (no timer when it is infinite:
   * a subscription waits until records land or it is cancelled), or the call is cancelled.
   */
  waitForMessages(topic: string, queueId: number, queueOffset: number, holdMs: number, call: grpc.ServerUnaryCall<unknown, unknown> | undefined): Promise<'woken' | 'timeout' | 'cancelled'> {
    const { ctx } = this;
    if (call?.cancelled === true) return Promise.resolve('cancelled');
    // Shutting down: held pulls were answered (wakeAll); nothing waits without end from now on.
    if (!Number.isFinite(holdMs) && ctx.isStopping()) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (outcome: 'woken' | 'timeout' | 'cancelled'): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        ctx.longPolls.remove(handle);
        call?.removeListener('cancelled', onCancelled);
        resolve(outcome);
      };
      const onCancelled = (): void => finish('cancelled');
      const handle = ctx.longPolls.add({ topic, queueId, queueOffset, wake: () => finish('woken') });
      if (Number.isFinite(holdMs)) timer = setTimeout(() => finish('timeout'), holdMs);
      call?.once('cancelled', onCancelled);
      // A message may have landed between the read and the registration above.
      const range = ctx.store.queueRange(topic, queueId);
      if (range.maxQueueOffset > queueOffset) finish('woken');
    });
  }
}
