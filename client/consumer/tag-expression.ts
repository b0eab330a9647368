// Tag expressions of subscriptions: `*` (or empty) for every message, or `a || b || c` for
// messages whose tag is one of those. The broker filters with the same expression; the client
// checks again so that what a handler sees always matches (pure).
import { ConveyorError, ErrorCode } from '../../common/errors.js';

/** Tags in one expression: an expression is a short list, not a query language. */
const TAG_EXPRESSION_TAGS_MAX = 64;

export interface TagFilter {
  readonly expression: string;
  /** Undefined = every tag. */
  readonly tags: ReadonlySet<string> | undefined;
}

export function parseTagExpression(expression: string | undefined): TagFilter {
  const text = (expression ?? '*').trim();
  if (text === '' || text === '*') return { expression: '*', tags: undefined };
  const tags = text.split('||').map((t) => t.trim());
  if (tags.some((t) => t.length === 0 || /[\s|*]/.test(t))) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `invalid tag expression '${text.slice(0, 80)}': use '*' or tags separated by '||', e.g. 'a || b'`, { expression: text.slice(0, 80) });
  }
  if (tags.length > TAG_EXPRESSION_TAGS_MAX) {
    throw new ConveyorError(ErrorCode.INVALID_ARGUMENT, `tag expression has ${tags.length} tags, over the limit of ${TAG_EXPRESSION_TAGS_MAX}`, { max: TAG_EXPRESSION_TAGS_MAX });
  }
  return { expression: tags.join(' || '), tags: new Set(tags) };
}

export function matchesTag(filter: TagFilter, tag: string): boolean {
  return filter.tags === undefined || filter.tags.has(tag);
}
