import { describe, expect, it } from 'vitest';
import { ErrorCode, isConveyorError } from '../../../../common/errors.js';
import { TAG_EXPRESSION_TAGS_MAX, TAG_LENGTH_MAX, parseTagExpression, tagMatches } from '../../../../broker/consumers/tag-filter.js';

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    if (isConveyorError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('tag expressions', () => {
  it('match every message for *, empty, blank or missing', () => {
    for (const expression of ['*', '', '  ', ' * ', null, undefined]) {
      const filter = parseTagExpression(expression);
      expect(filter.tags).toBeUndefined();
      expect(tagMatches(filter, 'anything')).toBe(true);
      expect(tagMatches(filter, '')).toBe(true);
    }
  });

  it('select one tag', () => {
    const filter = parseTagExpression('orders');
    expect([...(filter.tags ?? [])]).toEqual(['orders']);
    expect(tagMatches(filter, 'orders')).toBe(true);
    expect(tagMatches(filter, 'other')).toBe(false);
    expect(tagMatches(filter, '')).toBe(false);
  });

  it('select any of several tags separated by ||, with or without spaces, ignoring repeats', () => {
    const filter = parseTagExpression('a || b||c ||a');
    expect([...(filter.tags ?? [])].sort()).toEqual(['a', 'b', 'c']);
    expect(filter.expression).toBe('a || b || c');
    expect(tagMatches(filter, 'b')).toBe(true);
    expect(tagMatches(filter, 'd')).toBe(false);
  });

  it('reject an empty alternative', () => {
    expect(codeOf(() => parseTagExpression('a ||'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseTagExpression('|| a'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseTagExpression('a |||| b'))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('reject * mixed with tags, a single |, and white space inside a tag', () => {
    expect(codeOf(() => parseTagExpression('* || a'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseTagExpression('a | b'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseTagExpression('a b'))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('reject too many tags and too long a tag', () => {
    const many = Array.from({ length: TAG_EXPRESSION_TAGS_MAX + 1 }, (_, i) => `t${i}`).join(' || ');
    expect(codeOf(() => parseTagExpression(many))).toBe(ErrorCode.INVALID_ARGUMENT);
    const justEnough = Array.from({ length: TAG_EXPRESSION_TAGS_MAX }, (_, i) => `t${i}`).join(' || ');
    expect(parseTagExpression(justEnough).tags?.size).toBe(TAG_EXPRESSION_TAGS_MAX);
    expect(codeOf(() => parseTagExpression('x'.repeat(TAG_LENGTH_MAX + 1)))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(parseTagExpression('x'.repeat(TAG_LENGTH_MAX)).tags?.size).toBe(1);
  });

  it('name the bad expression and the fix in the error message', () => {
    expect(() => parseTagExpression('a ||')).toThrow(/invalid tag expression 'a \|\|'.*'\*'.*tagA \|\| tagB/);
  });
});
