import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { varintBytes, writeVarint } from '../../../common/varint.js';

describe('varint', () => {
  it('writes the bytes protobufjs writes for uint64, past 2^31 up to 2^53 - 1', () => {
    for (const value of [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 35, Number.MAX_SAFE_INTEGER]) {
      const expected = protobuf.Writer.create().uint64(value).finish();
      const buf = new Uint8Array(12);
      const end = writeVarint(buf, 2, value);
      expect(varintBytes(value)).toBe(expected.length);
      expect(end).toBe(2 + expected.length);
      expect(Buffer.from(buf.subarray(2, end))).toEqual(Buffer.from(expected));
    }
  });
});
