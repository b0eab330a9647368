// The client's retry table (client/retry-policy.ts), code by code: a decision written down here
// for every error code of proto/errors.proto, so that dropping a code from a set, adding one, or
// adding a new code without deciding fails this file. docs/client.md ("Retries") lists the codes
// a send is retried on; it is held to the same table.
import { describe, expect, it } from 'vitest';
import { codeOf, isRetryableSendError, isUnreachable, refreshesRoute } from '../../../client/retry-policy.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import { backtickedNames, docPage } from '../../helpers/doc-tables.js';

type CodeName = keyof typeof ErrorCode;

/**
 * Three decisions per code, one letter each ('-' = no):
 * - `F` fail over: the same request goes to another address (a slave of the group for reads, the
 *   next nameserver, another broker for admin and offsets) — isUnreachable;
 * - `S` send retried: the producer sends again, with the same message id, stepping around the
 *   broker group that failed — isRetryableSendError;
 * - `R` route refreshed: the topic's route is fetched again before its next use — refreshesRoute.
 */
const POLICY: Record<CodeName, string> = {
  OK: '---',
  INTERNAL: '---',
  INVALID_ARGUMENT: '---',
  INVALID_NAME: '---',
  TOPIC_NOT_FOUND: '--R',
  GROUP_NOT_FOUND: '---',
  MESSAGE_TOO_LARGE: '---',
  BATCH_TOO_LARGE: '---',
  TOO_MANY_PROPERTIES: '---',
  NOT_MASTER: '-SR',
  SLAVE_NOT_AVAILABLE: '---',
  SLAVE_TIMEOUT: '---',
  FLUSH_TIMEOUT: '---',
  SERVICE_UNAVAILABLE: 'FSR',
  ACCESS_DENIED: '---',
  OFFSET_OUT_OF_RANGE: '---',
  DISK_FULL: '-S-',
  QUEUE_NOT_FOUND: '--R',
  BROKER_NOT_FOUND: '---',
  NO_ROUTE: '-SR',
  TOPIC_NOT_WRITABLE: '-SR',
  TOPIC_NOT_READABLE: '--R',
  HANDSHAKE_MISMATCH: '---',
  REPLICATION_DATA_GONE: '---',
  CORRUPT_RECORD: '---',
  MESSAGE_NOT_FOUND: '---',
  TIMEOUT: 'FSR',
  CONFIG_INVALID: '---',
  SHUTTING_DOWN: 'FSR',
  STALE_ROUTE: '-SR',
};

const CODES = Object.entries(ErrorCode).filter((entry): entry is [CodeName, number] => typeof entry[1] === 'number');

function decisionsOf(code: ErrorCode): string {
  return (isUnreachable(code) ? 'F' : '-') + (isRetryableSendError(code) ? 'S' : '-') + (refreshesRoute(code) ? 'R' : '-');
}

describe('retry policy', () => {
  it('has a decision written down for every error code, and for no code that does not exist', () => {
    expect(CODES.length).toBeGreaterThanOrEqual(30);
    expect(Object.keys(POLICY).sort()).toEqual(CODES.map(([name]) => name).sort());
  });

  it('fails over, retries sends and refreshes routes on exactly the codes of the table', () => {
    const actual = Object.fromEntries(CODES.map(([name, code]) => [name, decisionsOf(code)]));
    expect(actual).toEqual(POLICY);
  });

  it('retries every send that could fail over: an unreachable broker is worth another group', () => {
    for (const [name, code] of CODES) if (isUnreachable(code)) expect(isRetryableSendError(code), name).toBe(true);
  });

  it('treats anything thrown that is not a ConveyorError as INTERNAL, which is never retried', () => {
    expect(codeOf(new TypeError('boom'))).toBe(ErrorCode.INTERNAL);
    expect(codeOf(new ConveyorError(ErrorCode.DISK_FULL, 'full'))).toBe(ErrorCode.DISK_FULL);
    expect(decisionsOf(codeOf('a string'))).toBe('---');
  });

  it('matches the codes docs/client.md says a send is retried on', () => {
    const page = docPage('client.md');
    const from = page.indexOf('Codes retried on another broker group');
    const to = page.indexOf('Anything else', from);
    expect(from, 'docs/client.md lost its "Retries" sentence').toBeGreaterThan(0);
    const documented = backtickedNames(page.slice(from, to));
    const retried = CODES.filter(([, code]) => isRetryableSendError(code)).map(([name]) => name);
    expect(documented.sort()).toEqual(retried.sort());
  });
});
