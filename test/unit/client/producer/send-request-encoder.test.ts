// The producer's own SendRequest encoder writes exactly what the generated protobuf encoder writes,
// so any broker decodes it as before.
import { describe, expect, it } from 'vitest';
import { encodeSendRequest, type SendRequestInput } from '../../../../client/producer/send-request-encoder.js';
import type { PreparedMessage } from '../../../../client/message.js';
import { conveyor } from '../../../../proto/index.js';

function generated(request: SendRequestInput): Buffer {
  return Buffer.from(conveyor.SendRequest.encode({ ...request, messages: [...request.messages] }).finish());
}

function prepared(overrides: Partial<PreparedMessage> = {}): PreparedMessage {
  return { messageId: '018f2a3b4c5da1b2c3d4e5f600000001', keys: [], tag: '', properties: {}, body: Buffer.alloc(1024, 0x62), bornTimestampMs: 1_700_000_000_123, flags: 0, ...overrides };
}

/** A small seeded generator (mulberry32): the same varied cases on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Well-formed strings only (ASCII, two-byte, three-byte and astral characters): lone surrogates are
// spelled differently by the two encoders (see the encoder).
const ALPHABET = ['a', 'Z', '0', '-', ' ', 'é', 'ж', '中', '€', '😀'];

function cases(count: number): SendRequestInput[] {
  const next = random(42);
  const int = (max: number): number => Math.floor(next() * (max + 1));
  const text = (maxLength: number): string => Array.from({ length: int(maxLength) }, () => ALPHABET[int(ALPHABET.length - 1)]!).join('');
  const pick = <T>(...values: T[]): T => values[int(values.length - 1)]!;
  const message = (): PreparedMessage => ({
    messageId: text(pick(0, 32, 140)),
    keys: Array.from({ length: int(3) }, () => text(20)),
    tag: text(pick(0, 10)),
    properties: Object.fromEntries(Array.from({ length: int(4) }, () => [text(12), text(pick(0, 5, 300))])),
    body: Buffer.alloc(pick(0, 1, 127, 128, 1024, 20_000), int(255)),
    bornTimestampMs: pick(0, 127, 128, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER),
    flags: pick(0, 1, 0xffff_ffff),
  });
  return Array.from({ length: count }, () => ({
    topic: text(pick(0, 10, 130)),
    queueId: pick(0, 1, 127, 128, 0xffff_ffff),
    producerGroup: text(pick(0, 20)),
    messages: Array.from({ length: int(6) }, message),
    acceptsStoredBatch: next() < 0.5,
  }));
}

describe('send request encoding', () => {
  it('writes the generated encoder\'s bytes for a typical batch, and the broker decodes it', () => {
    const request: SendRequestInput = { topic: 'orders', queueId: 3, producerGroup: 'pg', messages: [prepared(), prepared({ keys: ['k1', 'k2'], tag: 'tagA', properties: { trace: 'x', 'ключ': 'значение' }, flags: 1 })], acceptsStoredBatch: true };
    const bytes = encodeSendRequest(request);
    expect(bytes.equals(generated(request))).toBe(true);
    const decoded = conveyor.SendRequest.decode(bytes);
    expect(decoded.acceptsStoredBatch).toBe(true);
    expect(decoded.messages[1]).toMatchObject({ keys: ['k1', 'k2'], tag: 'tagA', properties: { trace: 'x', 'ключ': 'значение' }, flags: 1, bornTimestampMs: 1_700_000_000_123 });
  });

  it('leaves out default fields as the generated encoder does (queue 0, empty strings, empty body, zero timestamp)', () => {
    const request: SendRequestInput = { topic: 't', queueId: 0, producerGroup: '', messages: [prepared({ messageId: '', body: Buffer.alloc(0), bornTimestampMs: 0 })], acceptsStoredBatch: false };
    expect(encodeSendRequest(request).equals(generated(request))).toBe(true);
  });

  it('writes the generated encoder\'s bytes for varied batches (lengths at varint steps, multi-byte text, large numbers)', () => {
    const all = cases(300);
    expect(all.filter((r) => r.messages.length > 0).length).toBeGreaterThan(200);
    for (const request of all) expect(encodeSendRequest(request).toString('hex')).toBe(generated(request).toString('hex'));
  });
});
