// The time a unary call has left before its client gives up. gRPC deadlines are wall-clock times,
// so `nowMs` is Date.now(), not the injected clock. No deadline (or none known) is +Infinity.
import type * as grpc from '@grpc/grpc-js';

export function deadlineRemainingMs(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getDeadline'> | undefined, nowMs: number): number {
  const deadline = call?.getDeadline();
  if (deadline === undefined) return Number.POSITIVE_INFINITY;
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - nowMs : Number.POSITIVE_INFINITY;
}
