// Tag expressions of a pull: `*` or empty for every message, or `a || b || c` for messages whose
// tag is one of those. Parsed once per pull; the store gets the set of tags (it filters by the tag
// hash in the consume queue, then by the tag itself in the record).
import { ConveyorError, ErrorCode } from '../../common/errors.js';

/** Longest expression accepted: bounded parse work per pull. */
const TAG_EXPRESSION_LENGTH_MAX = 4096;
/** Most alternatives in one expression: the store checks each candidate tag against this set. */
export const TAG_EXPRESSION_TAGS_MAX = 64;
/** Longest single tag; the same bound as a message's tag at send time. */
export const TAG_LENGTH_MAX = 255;

/** `undefined` tags means every message matches. */
export interface TagFilter {
  readonly expression: string;
  readonly tags: ReadonlySet<string> | undefined;
}

const MATCH_ALL: TagFilter = { expression: '*', tags: undefined };

function invalid(expression: string, why: string): ConveyorError {
  const shown = expression.length > 60 ? `${expression.slice(0, 60)}…` : expression;
  return new ConveyorError(
    ErrorCode.INVALID_ARGUMENT,
    `invalid tag expression '${shown}': ${why}; use '*' for every message or 'tagA || tagB'`,
    { field: 'tagExpression' },
  );
}

/** Parses a tag expression; throws INVALID_ARGUMENT naming what is wrong. */
export function parseTagExpression(expression: string | null | undefined): TagFilter {
  const text = (expression ?? '').trim();
  if (text === '' || text === '*') return MATCH_ALL;
  if (text.length > TAG_EXPRESSION_LENGTH_MAX) throw invalid(text, `it is longer than ${TAG_EXPRESSION_LENGTH_MAX} characters`);
  const parts = text.split('||').map((part) => part.trim());
  if (parts.length > TAG_EXPRESSION_TAGS_MAX) throw invalid(text, `it has more than ${TAG_EXPRESSION_TAGS_MAX} tags`);
  const tags = new Set<string>();
  for (const part of parts) {
    if (part === '') throw invalid(text, 'a tag between || is empty');
    if (part === '*') throw invalid(text, "'*' cannot be combined with other tags");
    if (part.length > TAG_LENGTH_MAX) throw invalid(text, `a tag is longer than ${TAG_LENGTH_MAX} characters`);
    if (/[|\s]/.test(part)) throw invalid(text, `tag '${part}' contains '|' or white space`);
    tags.add(part);
  }
  return { expression: [...tags].join(' || '), tags };
}

/** Whether a message with `tag` passes the filter (used where records are filtered in memory). */
export function tagMatches(filter: TagFilter, tag: string): boolean {
  return filter.tags === undefined || filter.tags.has(tag);
}
