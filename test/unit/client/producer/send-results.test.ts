// The producer's reading of a send answer: the compact StoredBatch and the per-message form give
// the same SendResult values, in request order; a malformed or failed answer is an error.
import { describe, expect, it } from 'vitest';
import { storedBatch } from '../../../../broker/services/send.js';
import { ErrorCode, errorCodeName, isConveyorError } from '../../../../common/errors.js';
import { toSendResults } from '../../../../client/producer/producer.js';
import type { PreparedMessage } from '../../../../client/message.js';
import { conveyor } from '../../../../proto/index.js';

const queue = { topic: 't', brokerName: 'broker-a', queueId: 3 };

function prepared(messageId: string): PreparedMessage {
  return { messageId, keys: [], tag: '', properties: {}, body: Buffer.from('x'), bornTimestampMs: 1, flags: 0 };
}

/** The answer as the client receives it: encoded by the broker's codec, decoded by the client's. */
function overTheWire(response: conveyor.ISendResponse): conveyor.SendResponse {
  return conveyor.SendResponse.decode(conveyor.SendResponse.encode(response).finish());
}

const appended = [
  { messageId: 'a', topic: 't', queueId: 3, queueOffset: 7, physicalOffset: 5_000_000_000, storeTimestampMs: 1_700_000_000_123, size: 100 },
  { messageId: 'b', topic: 't', queueId: 3, queueOffset: 8, physicalOffset: 5_000_000_100, storeTimestampMs: 1_700_000_000_123, size: 120 },
  // A segment roll put padding in front of the third record.
  { messageId: 'c', topic: 't', queueId: 3, queueOffset: 9, physicalOffset: 5_000_004_000, storeTimestampMs: 1_700_000_000_123, size: 90 },
];

function expectedResults(status: string): unknown[] {
  return appended.map((a) => ({ status, messageId: a.messageId, topic: 't', brokerName: 'broker-a', queueId: 3, queueOffset: a.queueOffset, physicalOffset: a.physicalOffset, storeTimestampMs: a.storeTimestampMs, duplicate: false }));
}

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    fn();
    return 'OK';
  } catch (err) {
    if (isConveyorError(err)) return errorCodeName(err.code);
    throw err;
  }
}

describe('reading a send answer', () => {
  const messages = ['a', 'b', 'c'].map(prepared);

  it('expands a compact stored batch into one result per message, offsets included', () => {
    const stored = storedBatch(appended, ErrorCode.OK, 'broker-a');
    expect(stored?.physicalOffsetDeltas).toEqual([0, 100, 3_900]);
    expect(toSendResults(queue, messages, overTheWire({ stored }))).toEqual(expectedResults('OK'));
  });

  it('reads the per-message answer of a broker that does not send the compact form to the same results', () => {
    const results = appended.map((a) => ({ messageId: a.messageId, status: ErrorCode.OK, brokerName: 'broker-a', queueId: 3, queueOffset: a.queueOffset, physicalOffset: a.physicalOffset, storeTimestampMs: a.storeTimestampMs, duplicate: false }));
    expect(toSendResults(queue, messages, overTheWire({ results }))).toEqual(expectedResults('OK'));
  });

  it('carries a sync-replication status of the batch to every message', () => {
    const stored = storedBatch(appended, ErrorCode.SLAVE_TIMEOUT, 'broker-a');
    expect(toSendResults(queue, messages, overTheWire({ stored })).map((r) => r.status)).toEqual(['SLAVE_TIMEOUT', 'SLAVE_TIMEOUT', 'SLAVE_TIMEOUT']);
  });

  it('refuses a stored batch whose count differs from the messages sent', async () => {
    const stored = storedBatch(appended.slice(0, 2), ErrorCode.OK, 'broker-a');
    expect(await codeOf(() => toSendResults(queue, messages, overTheWire({ stored })))).toBe('INTERNAL');
  });

  it('leaves the compact form out when the results are not contiguous in one queue with one timestamp', () => {
    expect(storedBatch([appended[0]!, { ...appended[1]!, queueOffset: 9 }], ErrorCode.OK, 'broker-a')).toBeUndefined();
    expect(storedBatch([appended[0]!, { ...appended[1]!, storeTimestampMs: 1 }], ErrorCode.OK, 'broker-a')).toBeUndefined();
    expect(storedBatch([appended[0]!, { ...appended[1]!, physicalOffset: 4_000_000_000 }], ErrorCode.OK, 'broker-a')).toBeUndefined();
    expect(storedBatch([], ErrorCode.OK, 'broker-a')).toBeUndefined();
  });
});
