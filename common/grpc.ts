// The one place where Conveyor errors meet gRPC status (STYLE.md: grpc-js turns any thrown error
// without a numeric code into UNKNOWN, so the mapping is explicit and lives here only).
import * as grpc from '@grpc/grpc-js';
import { conveyor } from '../proto/index.js';
import { ConveyorError, ErrorCode, errorCodeName, unreachable } from './errors.js';
import { raiseConnectionWindow, raiseStreamWindow } from './grpc-server-window.js';

const ERROR_METADATA_KEY = 'conveyor-error-bin';

/** gRPC message-size limit both ways: a 4 MiB body plus headers in a batch of up to 32 MiB. */
const GRPC_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

export function grpcStatusFor(code: ErrorCode): grpc.status {
  switch (code) {
    case ErrorCode.OK: return grpc.status.OK;
    case ErrorCode.INTERNAL: return grpc.status.INTERNAL;
    case ErrorCode.INVALID_ARGUMENT:
    case ErrorCode.INVALID_NAME:
    case ErrorCode.CONFIG_INVALID:
    case ErrorCode.TOO_MANY_PROPERTIES:
      return grpc.status.INVALID_ARGUMENT;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.BATCH_TOO_LARGE:
    case ErrorCode.DISK_FULL:
      return grpc.status.RESOURCE_EXHAUSTED;
    case ErrorCode.TOPIC_NOT_FOUND:
    case ErrorCode.GROUP_NOT_FOUND:
    case ErrorCode.QUEUE_NOT_FOUND:
    case ErrorCode.BROKER_NOT_FOUND:
    case ErrorCode.MESSAGE_NOT_FOUND:
      return grpc.status.NOT_FOUND;
    case ErrorCode.NOT_MASTER:
    case ErrorCode.TOPIC_NOT_WRITABLE:
    case ErrorCode.TOPIC_NOT_READABLE:
    case ErrorCode.HANDSHAKE_MISMATCH:
    case ErrorCode.STALE_ROUTE:
      return grpc.status.FAILED_PRECONDITION;
    case ErrorCode.OFFSET_OUT_OF_RANGE:
    case ErrorCode.REPLICATION_DATA_GONE:
      return grpc.status.OUT_OF_RANGE;
    case ErrorCode.SLAVE_NOT_AVAILABLE:
    case ErrorCode.SERVICE_UNAVAILABLE:
    case ErrorCode.NO_ROUTE:
    case ErrorCode.SHUTTING_DOWN:
      return grpc.status.UNAVAILABLE;
    case ErrorCode.SLAVE_TIMEOUT:
    case ErrorCode.FLUSH_TIMEOUT:
    case ErrorCode.TIMEOUT:
      return grpc.status.DEADLINE_EXCEEDED;
    case ErrorCode.ACCESS_DENIED: return grpc.status.PERMISSION_DENIED;
    case ErrorCode.CORRUPT_RECORD: return grpc.status.DATA_LOSS;
    default: return unreachable(code);
  }
}

/** Anything thrown by a handler as a ConveyorError: its own, or INTERNAL around it. */
function asConveyorError(err: unknown): ConveyorError {
  return err instanceof ConveyorError
    ? err
    : new ConveyorError(ErrorCode.INTERNAL, `internal error: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
}

/** Anything thrown by a handler as the ErrorDetail the wire carries (trailer of a unary call, or a stream's error frame). */
export function toErrorDetail(err: unknown): conveyor.IErrorDetail {
  const e = asConveyorError(err);
  return { code: e.code, message: e.message, fields: e.wireFields() };
}

/** A ConveyorError (or anything thrown) as the ServiceError a handler passes to its callback. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = asConveyorError(err);
  const metadata = new grpc.Metadata();
  const detail = conveyor.ErrorDetail.encode(toErrorDetail(e)).finish();
  metadata.set(ERROR_METADATA_KEY, Buffer.from(detail.buffer, detail.byteOffset, detail.byteLength));
  return { code: grpcStatusFor(e.code), details: `${e.codeName}: ${e.message}`, metadata };
}

/** The ConveyorError a client rebuilds from a server's ErrorDetail (unary trailer or stream error frame). */
export function fromErrorDetail(detail: conveyor.IErrorDetail, target: string | undefined, cause: unknown): ConveyorError {
  return new ConveyorError(detail.code ?? ErrorCode.INTERNAL, detail.message ?? '', { ...detail.fields, target }, { cause });
}

/** Codes a client meets without the server's detail, derived from the transport status. */
function codeForBareStatus(status: grpc.status): ErrorCode {
  switch (status) {
    case grpc.status.UNAVAILABLE: return ErrorCode.SERVICE_UNAVAILABLE;
    case grpc.status.DEADLINE_EXCEEDED: return ErrorCode.TIMEOUT;
    case grpc.status.CANCELLED: return ErrorCode.SERVICE_UNAVAILABLE;
    case grpc.status.RESOURCE_EXHAUSTED: return ErrorCode.MESSAGE_TOO_LARGE;
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED:
      return ErrorCode.ACCESS_DENIED;
    case grpc.status.INVALID_ARGUMENT: return ErrorCode.INVALID_ARGUMENT;
    default: return ErrorCode.INTERNAL;
  }
}

/** Any error a grpc-js client call produced, as a ConveyorError with the server's code when it sent one. */
export function fromServiceError(err: unknown, target?: string): ConveyorError {
  if (err instanceof ConveyorError) return err;
  const se = err as Partial<grpc.ServiceError>;
  const raw = se.metadata?.get(ERROR_METADATA_KEY)[0];
  if (raw instanceof Buffer) return fromErrorDetail(conveyor.ErrorDetail.decode(raw), target, err);
  const status = typeof se.code === 'number' ? se.code : grpc.status.UNKNOWN;
  const code = codeForBareStatus(status);
  const where = target ? ` (${target})` : '';
  return new ConveyorError(code, `${errorCodeName(code)}${where}: ${se.details ?? se.message ?? String(err)}`, { grpcStatus: status, target }, { cause: err });
}

/**
 * Wraps an async handler into a grpc-js unary handler: the resolved value is the answer, a thrown
 * error is mapped once through toServiceError.
 */
export function unaryHandler<Req, Res>(fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let result: Promise<Res>;
    try {
      result = Promise.resolve(fn(call.request, call));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => callback(null, value),
      (err: unknown) => callback(toServiceError(err) as grpc.ServiceError),
    );
  };
}

/** A method definition seen from the client side: it serializes Req and decodes to Res. */
export interface ClientMethod<Req, Res> {
  path: string;
  requestSerialize: (message: Req) => Buffer;
  responseDeserialize: (bytes: Buffer) => Res;
}

/** Options common to every channel Conveyor opens. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': GRPC_MESSAGE_BYTES_MAX,
  'grpc.max_send_message_length': GRPC_MESSAGE_BYTES_MAX,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': GRPC_MESSAGE_BYTES_MAX,
  'grpc.max_send_message_length': GRPC_MESSAGE_BYTES_MAX,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

/** A typed, promise-returning unary call on a generic client. Errors come back as ConveyorError. */
export function callUnary<Req, Res>(
  client: grpc.Client,
  method: ClientMethod<Req, Res>,
  request: Req,
  deadlineMs: number,
  target?: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, value) => {
        if (err) reject(fromServiceError(err, target));
        else resolve(value as Res);
      },
    );
  });
}

/** Starts a grpc-js server on host:port (port 0 = ephemeral) and resolves with the bound port. */
export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  // 16 MiB receive windows instead of 64 KiB (grpc-server-window.ts).
  raiseStreamWindow(server);
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, boundPort) => {
      if (err) reject(new ConveyorError(ErrorCode.CONFIG_INVALID, `cannot listen on ${host}:${port}: ${err.message}`, { host, port }, { cause: err }));
      else {
        raiseConnectionWindow(server);
        resolve(boundPort);
      }
    });
  });
}

/** Stops taking new calls and lets in-flight ones finish, up to graceMs; then cancels the rest. */
export function shutdownServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
