import { ConveyorError, ErrorCode } from './errors.js';

/** Topic, group, cluster and broker names: DESIGN.md §5. */
export const NAME_PATTERN = /^[A-Za-z0-9_%-]{1,127}$/;
export const NAME_LENGTH_MAX = 127;

type NameKind = 'topic' | 'consumer group' | 'producer group' | 'cluster' | 'broker';

/**
 * The prefix of system topics: names the broker reserves for the messages it writes itself
 * (DESIGN.md §10: retries, dead letters, scheduled messages, transaction halves). Producers may
 * not send to them, and the admin API neither creates nor deletes them; consumers may pull those
 * meant to be consumed (docs/broker.md "System topics"). Within the name charset; a leading '%',
 * as in RocketMQ's %RETRY% and %DLQ% names, is rare in ordinary topic names.
 */
export const SYSTEM_TOPIC_PREFIX = '%SYS%';

export function isSystemTopic(topic: string): boolean {
  return topic.startsWith(SYSTEM_TOPIC_PREFIX);
}

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** Throws INVALID_NAME with a message naming the kind, the value and the rule. */
export function validateName(kind: NameKind, name: string | null | undefined): string {
  const value = name ?? '';
  if (!isValidName(value)) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    const why = value.length === 0 ? 'it is empty' : value.length > NAME_LENGTH_MAX ? `it is ${value.length} characters long` : 'it has a character outside the allowed set';
    throw new ConveyorError(
      ErrorCode.INVALID_NAME,
      `invalid ${kind} name '${shown}': ${why}; allowed are 1 to ${NAME_LENGTH_MAX} characters of A-Z a-z 0-9 _ % -`,
      { kind, name: shown },
    );
  }
  return value;
}
