import { describe, expect, it } from 'vitest';
import { resolveTransport } from '../../../client/client-context.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';

describe('client transport option', () => {
  it('defaults to stream, takes the environment next and the option first', () => {
    expect(resolveTransport(undefined, undefined)).toBe('stream');
    expect(resolveTransport(undefined, '')).toBe('stream');
    expect(resolveTransport(undefined, 'unary')).toBe('unary');
    expect(resolveTransport('stream', 'unary')).toBe('stream');
  });

  it('refuses an unknown transport with INVALID_ARGUMENT naming the choices', () => {
    let caught: unknown;
    try {
      resolveTransport(undefined, 'udp');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConveyorError);
    expect((caught as ConveyorError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((caught as ConveyorError).message).toContain('stream, unary');
  });
});
