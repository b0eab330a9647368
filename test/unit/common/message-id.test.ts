import { describe, expect, it } from 'vitest';
import { createMessageId, MessageIdGenerator, messageIdTimestampMs, validateMessageId } from '../../../common/message-id.js';
import { ErrorCode } from '../../../common/errors.js';

describe('message ids', () => {
  it('are 32 lowercase hex characters carrying their creation time', () => {
    const generator = new MessageIdGenerator(() => 1_700_000_000_123);
    const id = generator.next();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(messageIdTimestampMs(id)).toBe(1_700_000_000_123);
  });

  it('are unique within a generator, across generators and at the same millisecond', () => {
    const ids = new Set<string>();
    const generators = Array.from({ length: 4 }, () => new MessageIdGenerator(() => 42));
    for (let i = 0; i < 25_000; i++) for (const g of generators) ids.add(g.next());
    for (let i = 0; i < 10_000; i++) ids.add(createMessageId());
    expect(ids.size).toBe(110_000);
  });

  it('spell time, instance and counter exactly, across a change of the counter\'s high half, a wrap and a new millisecond', () => {
    for (const start of [0x0000_fffd, 0xffff_fffe, 0x1234_5678]) {
      let t = 0xabc_def0_1234;
      const seed = Buffer.alloc(10);
      seed.write('a1b2c3d4e5f6', 0, 'hex');
      seed.writeUInt32BE(start, 6);
      const generator = new MessageIdGenerator(() => t, () => seed);
      for (let i = 1; i <= 4; i++) {
        if (i === 3) t += 1;
        const counter = (start + i) % 0x1_0000_0000;
        expect(generator.next()).toBe(t.toString(16).padStart(12, '0') + 'a1b2c3d4e5f6' + counter.toString(16).padStart(8, '0'));
      }
    }
  });

  it('sort by creation time', () => {
    let t = 1_000;
    const generator = new MessageIdGenerator(() => t);
    const a = generator.next();
    t += 1;
    const b = generator.next();
    expect(a < b).toBe(true);
  });

  it('accept user ids of printable ASCII and refuse empty, spaced or oversize ones', () => {
    expect(validateMessageId('order-42:retry')).toBe('order-42:retry');
    for (const bad of ['', 'a b', 'x'.repeat(129), 'tab\there']) {
      expect(() => validateMessageId(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    }
  });
});
