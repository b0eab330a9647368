// One request that arrived as a frame on a SendStream or PullStream, seen by the services as the
// unary call they already know: `getDeadline()` gives the frame's own deadline and the call emits
// 'cancelled' when the client cancels that request (a cancel frame) or the whole stream goes away.
// Everything else (peer, metadata, auth) is the stream's. The services use only the deadline and
// the 'cancelled' event, so a frame is served by exactly the same code as a unary call.
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';

/** What a frame borrows from the stream it came on. */
type StreamSurface = Pick<grpc.ServerDuplexStream<unknown, unknown>, 'metadata' | 'getPeer' | 'getPath' | 'getHost' | 'getAuthContext' | 'getMetricsRecorder'>;

/** The absolute deadline (ms since the epoch, as gRPC's) of a frame that arrived at `nowMs` with a relative timeout; 0 = none. */
export function frameDeadline(timeoutMs: number, nowMs: number): number {
  return timeoutMs > 0 ? nowMs + timeoutMs : Number.POSITIVE_INFINITY;
}

export class FrameCall<Req> extends EventEmitter implements grpc.ServerUnaryCall<Req, unknown> {
  cancelled = false;

  constructor(
    readonly request: Req,
    private readonly stream: StreamSurface,
    private readonly deadlineMs: number,
  ) {
    super();
  }

  get metadata(): grpc.Metadata {
    return this.stream.metadata;
  }

  getPeer(): string {
    return this.stream.getPeer();
  }

  /** A frame has no headers of its own: the stream's were sent when it opened. */
  sendMetadata(): void {}

  getDeadline(): grpc.Deadline {
    return this.deadlineMs;
  }

  getPath(): string {
    return this.stream.getPath();
  }

  getHost(): string {
    return this.stream.getHost();
  }

  getAuthContext(): ReturnType<grpc.ServerUnaryCall<Req, unknown>['getAuthContext']> {
    return this.stream.getAuthContext();
  }

  getMetricsRecorder(): ReturnType<grpc.ServerUnaryCall<Req, unknown>['getMetricsRecorder']> {
    return this.stream.getMetricsRecorder();
  }

  /** The client gave up on this request (a cancel frame, or the stream is gone): a held pull stops. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }
}
