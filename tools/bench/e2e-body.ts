// The body of an e2e benchmark message: the consumer learns from the body alone when the message
// was meant to be sent, which run it belongs to and which sequence number it has, so latency is
// receive time − intended send time with no lookup, and stray messages of other runs are ignored.
//
//   bytes 0..8    float64 LE  intended send time, ms since the epoch (performance.timeOrigin based)
//   bytes 8..16   run token (random; messages with another token are not counted)
//   bytes 16..20  uint32 LE   sequence number within the run
//   byte  20      phase: 0 join check, 1 measured, 2 warm-up at rate (neither 0 nor 2 is measured)
//   bytes 21..    filler up to --size
import { assert } from '../../common/errors.js';

const E2E_HEADER_BYTES = 21;
export const RUN_TOKEN_BYTES = 8;

/** join: the sends until the consumer receives one; warmup: at --rate for --warmup-s (latency kept apart). */
type E2ePhase = 'join' | 'warmup' | 'measured';
const PHASE_BYTE: Record<E2ePhase, number> = { join: 0, measured: 1, warmup: 2 };

interface E2eStamp {
  sentAtMs: number;
  sequence: number;
  phase: E2ePhase;
}

export function encodeE2eBody(sizeBytes: number, runToken: Uint8Array, stamp: E2eStamp): Buffer {
  assert(sizeBytes >= E2E_HEADER_BYTES, `an e2e body needs at least ${E2E_HEADER_BYTES} bytes`);
  assert(runToken.byteLength === RUN_TOKEN_BYTES, 'run token must be 8 bytes');
  const body = Buffer.alloc(sizeBytes, 0x61);
  body.writeDoubleLE(stamp.sentAtMs, 0);
  body.set(runToken, 8);
  body.writeUInt32LE(stamp.sequence >>> 0, 16);
  body[20] = PHASE_BYTE[stamp.phase];
  return body;
}

/** The stamp of a body from this run, or null for a body of another run (or not an e2e body). */
export function decodeE2eBody(body: Buffer, runToken: Uint8Array): E2eStamp | null {
  if (body.byteLength < E2E_HEADER_BYTES) return null;
  if (Buffer.compare(body.subarray(8, 16), runToken) !== 0) return null;
  return {
    sentAtMs: body.readDoubleLE(0),
    sequence: body.readUInt32LE(16),
    phase: body[20] === 1 ? 'measured' : body[20] === 2 ? 'warmup' : 'join',
  };
}
