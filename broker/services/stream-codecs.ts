// The wire side of SendStream / PullStream on the broker (docs/wire.md "Streams"):
// - a request frame that does not decode becomes an empty frame marked malformed (with the id, if
//   its first field is readable), so the handler answers it with an error frame: grpc-js would
//   otherwise end the whole stream with INTERNAL, failing every other request on it;
// - a PullStream answer whose PullResponse was encoded in place (pull-response.ts) is framed
//   without re-encoding: the frame header (id, field tag, length: ≤ 17 bytes) is written into the
//   free room the read path left in front of it, so grpc-js still makes the only copy.
import { frameHeaderBytes, FRAME_RESPONSE_TAG, peekFrameId, writeFrameHeader } from '../../common/stream-frames.js';
import { conveyor } from '../../proto/index.js';
import { EncodedPullResponse, PULL_RESPONSE_HEADROOM_BYTES } from './pull-response.js';

const malformedFrames = new WeakMap<object, string>();

/** Why a request frame could not be decoded; undefined for a frame that decoded. */
export function malformedReason(frame: object): string | undefined {
  return malformedFrames.get(frame);
}

function tolerantDecoder<T extends object>(type: { decode(bytes: Uint8Array): T; create(properties: { id: number }): T }): (bytes: Buffer) => T {
  return (bytes) => {
    try {
      return type.decode(bytes);
    } catch (err) {
      const frame = type.create({ id: peekFrameId(bytes) });
      malformedFrames.set(frame, err instanceof Error ? err.message : String(err));
      return frame;
    }
  };
}

/**
 * Bytes free in front of an in-place answer's encoding. The frame the read path filled starts
 * PULL_RESPONSE_HEADROOM_BYTES before the records (pull.ts passes that headroom to the read and
 * to encodePullResponseInPlace), and the encoding starts somewhere inside that headroom.
 */
export function freeBytesBefore(response: EncodedPullResponse): number {
  const { records, encoded } = response;
  if (records.buffer !== encoded.buffer || records.length === 0) return 0;
  const frameStart = records.byteOffset - PULL_RESPONSE_HEADROOM_BYTES;
  const free = encoded.byteOffset - frameStart;
  return frameStart >= 0 && free >= 0 ? free : 0;
}

const encodePlainPullStreamResponse = (value: conveyor.IPullStreamResponse): Buffer => {
  const bytes = conveyor.PullStreamResponse.encode(value).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

/** PullStreamResponse field 4 (`subscribed`, varint) set to true. */
const SUBSCRIBED_FLAG = Buffer.from([(4 << 3) | 0, 1]);

/** A PullStreamResponse's bytes; an in-place PullResponse is nested as it is (see the header). */
export function encodePullStreamResponse(value: conveyor.IPullStreamResponse): Buffer {
  const response = value.response;
  if (!(response instanceof EncodedPullResponse)) return encodePlainPullStreamResponse(value);
  const nested = response.encoded;
  const id = value.id ?? 0;
  // A subscription's answer starts with `subscribed` (fields may come in any order).
  const flag = value.subscribed === true ? SUBSCRIBED_FLAG.length : 0;
  const header = flag + frameHeaderBytes(id, nested.length);
  if (header <= freeBytesBefore(response)) {
    const frame = Buffer.from(nested.buffer, nested.byteOffset - header, header + nested.length);
    frame.set(SUBSCRIBED_FLAG.subarray(0, flag), 0);
    writeFrameHeader(frame, flag, id, FRAME_RESPONSE_TAG, nested.length);
    return frame;
  }
  const frame = Buffer.allocUnsafe(header + nested.length);
  frame.set(SUBSCRIBED_FLAG.subarray(0, flag), 0);
  frame.set(nested, writeFrameHeader(frame, flag, id, FRAME_RESPONSE_TAG, nested.length));
  return frame;
}

interface StreamMethods {
  sendStream: { requestDeserialize: (bytes: Buffer) => conveyor.SendStreamRequest };
  pullStream: { requestDeserialize: (bytes: Buffer) => conveyor.PullStreamRequest; responseSerialize: (value: conveyor.IPullStreamResponse) => Buffer };
}

/** The service definition with the stream methods' tolerant decoders and the in-place PullStream encoder. */
export function withStreamCodecs<Definition extends StreamMethods>(definition: Definition): Definition {
  return {
    ...definition,
    sendStream: { ...definition.sendStream, requestDeserialize: tolerantDecoder(conveyor.SendStreamRequest) },
    pullStream: { ...definition.pullStream, requestDeserialize: tolerantDecoder(conveyor.PullStreamRequest), responseSerialize: encodePullStreamResponse },
  };
}
