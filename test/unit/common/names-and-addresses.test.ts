import { describe, expect, it } from 'vitest';
import { parseAddressList, parseHostPort } from '../../../common/addresses.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import { isValidName, validateName } from '../../../common/names.js';

describe('names', () => {
  it('accepts 1 to 127 characters of A-Z a-z 0-9 _ % -', () => {
    expect(isValidName('a')).toBe(true);
    expect(isValidName('%RETRY%group_1-x')).toBe(true);
    expect(isValidName('x'.repeat(127))).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['x'.repeat(128), '128 characters'],
    ['a.b', 'outside the allowed set'],
    ['a b', 'outside the allowed set'],
    ['тема', 'outside the allowed set'],
  ])('rejects %j with INVALID_NAME saying why (%s)', (name, why) => {
    try {
      validateName('topic', name);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConveyorError);
      expect((err as ConveyorError).code).toBe(ErrorCode.INVALID_NAME);
      expect((err as ConveyorError).message).toContain(why);
      expect((err as ConveyorError).message).toContain('invalid topic name');
    }
  });
});

describe('addresses', () => {
  it('parses host:port and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:9876')).toEqual({ host: '127.0.0.1', port: 9876 });
    expect(parseHostPort('[::1]:10911')).toEqual({ host: '::1', port: 10911 });
    expect(parseHostPort('ns.conveyor.svc:9876')).toEqual({ host: 'ns.conveyor.svc', port: 9876 });
  });

  it.each(['127.0.0.1', ':9876', 'h:0', 'h:65536', 'h:p'])('rejects %j with INVALID_ARGUMENT', (text) => {
    expect(() => parseHostPort(text)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });

  it('splits and validates a comma-separated list', () => {
    expect(parseAddressList(' a:1, b:2 ,')).toEqual(['a:1', 'b:2']);
    expect(() => parseAddressList('a:1,b')).toThrow(/invalid address 'b'/);
  });
});
