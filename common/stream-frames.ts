// Hand-written framing for SendStream / PullStream (proto/broker.proto): a frame is a few header
// fields plus the existing SendRequest / PullRequest / PullResponse as a nested message, and the
// nested message is often already encoded (the producer's one-buffer send request, the broker's
// in-place pull answer). Writing the header by hand puts those bytes in a frame without decoding
// and re-encoding them. The output is plain protobuf: the generated decoders read it, and tests
// check that against the generated encoders.

import { varintBytes, writeVarint } from './varint.js';

/** Field 1 (`id`), varint. */
const FRAME_ID_TAG = (1 << 3) | 0;
/** Field 2 (`timeout_ms`) of a request frame, varint. */
const FRAME_TIMEOUT_TAG = (2 << 3) | 0;
/** Field 3 (`request`) of a request frame, length-delimited. */
const FRAME_REQUEST_TAG = (3 << 3) | 2;
/** Field 2 (`response`) of a response frame, length-delimited. */
export const FRAME_RESPONSE_TAG = (2 << 3) | 2;

/** Largest frame id: ids stay exact JS integers (2^53 − 1; at a million requests a second, 285 years). */
export const FRAME_ID_MAX = Number.MAX_SAFE_INTEGER;

/** Bytes of the header in front of a nested message of `length` bytes: id, then (request frames) timeout, then the nested field's tag and length. */
export function frameHeaderBytes(id: number, length: number, timeoutMs?: number): number {
  const timeout = timeoutMs === undefined || timeoutMs === 0 ? 0 : 1 + varintBytes(timeoutMs);
  return 1 + varintBytes(id) + timeout + 1 + varintBytes(length);
}

/** Writes the header that ends exactly where the nested message starts; returns the position after it. */
export function writeFrameHeader(buf: Uint8Array, position: number, id: number, nestedTag: number, length: number, timeoutMs?: number): number {
  let p = position;
  buf[p++] = FRAME_ID_TAG;
  p = writeVarint(buf, p, id);
  if (timeoutMs !== undefined && timeoutMs !== 0) {
    buf[p++] = FRAME_TIMEOUT_TAG;
    p = writeVarint(buf, p, timeoutMs);
  }
  buf[p++] = nestedTag;
  return writeVarint(buf, p, length);
}

/** A request frame around an encoded SendRequest / PullRequest: one buffer, one copy of `request`. */
export function encodeRequestFrame(id: number, timeoutMs: number, request: Uint8Array): Buffer {
  const header = frameHeaderBytes(id, request.length, timeoutMs);
  const frame = Buffer.allocUnsafe(header + request.length);
  const p = writeFrameHeader(frame, 0, id, FRAME_REQUEST_TAG, request.length, timeoutMs);
  frame.set(request, p);
  return frame;
}

/**
 * The id of a frame that could not be decoded, when its first field is a readable id (as every
 * frame this project writes starts); 0 otherwise. Lets the broker answer a malformed frame with an
 * error frame its sender can match.
 */
export function peekFrameId(bytes: Uint8Array): number {
  if (bytes.length < 2 || bytes[0] !== FRAME_ID_TAG) return 0;
  let value = 0;
  let scale = 1;
  for (let p = 1; p < bytes.length && p <= 8; p++) {
    const byte = bytes[p] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value <= FRAME_ID_MAX ? value : 0;
    scale *= 0x80;
  }
  return 0;
}

/** Field 4 (`requests`) of a SendStream request frame, length-delimited, repeated. */
const FRAME_REQUESTS_TAG = (4 << 3) | 2;

/**
 * Most sends (one per queue) one SendStream frame may carry in `requests`. A producer gathers the
 * sends to one broker that are ready in the same turn of its event loop, one per queue it has
 * there (8 by default, RocketMQ's 4–16); 64 covers that many queues of one broker in one frame
 * and bounds what one frame makes the broker start at once. A broker refuses a frame with more
 * (INVALID_ARGUMENT, none served).
 */
export const SEND_FRAME_REQUESTS_MAX = 64;

/**
 * A SendStream request frame carrying several encoded SendRequests in `requests`: one buffer, one
 * copy of each request.
 */
export function encodeMultiRequestFrame(id: number, timeoutMs: number, requests: readonly Uint8Array[]): Buffer {
  let fields = 0;
  for (const request of requests) fields += 1 + varintBytes(request.length) + request.length;
  const timeout = timeoutMs === 0 ? 0 : 1 + varintBytes(timeoutMs);
  const frame = Buffer.allocUnsafe(1 + varintBytes(id) + timeout + fields);
  let p = 0;
  frame[p++] = FRAME_ID_TAG;
  p = writeVarint(frame, p, id);
  if (timeoutMs !== 0) {
    frame[p++] = FRAME_TIMEOUT_TAG;
    p = writeVarint(frame, p, timeoutMs);
  }
  for (const request of requests) {
    frame[p++] = FRAME_REQUESTS_TAG;
    p = writeVarint(frame, p, request.length);
    frame.set(request, p);
    p += request.length;
  }
  if (p !== frame.length) throw new Error(`assertion failed: multi request frame written to ${p} bytes, measured ${frame.length}`);
  return frame;
}
