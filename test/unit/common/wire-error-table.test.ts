// The code → gRPC status table of docs/wire.md ("Errors") is the contract: every error code of
// proto/errors.proto appears in it once, with its number, and grpcStatusFor (common/grpc.ts)
// gives exactly the status the table states. Changing either alone fails here.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../common/errors.js';
import { grpcStatusFor } from '../../../common/grpc.js';
import { docTable } from '../../helpers/doc-tables.js';

/** Every code of the enum by name (the generated enum maps both ways; keep the name → number half). */
const CODES = Object.entries(ErrorCode).filter((entry): entry is [string, number] => typeof entry[1] === 'number');
const ROWS = docTable('wire.md', ['code', 'number', 'gRPC status', 'meaning']);

describe('docs/wire.md error table', () => {
  it('lists every error code of proto/errors.proto once, with its number, and nothing else', () => {
    expect(CODES.length).toBeGreaterThanOrEqual(30);
    const documented = ROWS.map(([name, number]) => [name, Number(number)]);
    expect(new Set(documented.map(([name]) => name)).size, 'a code listed twice').toBe(documented.length);
    expect(documented.sort()).toEqual([...CODES].sort());
  });

  it('gives, for every code, exactly the gRPC status that grpcStatusFor maps it to', () => {
    const statusByName = grpc.status as unknown as Record<string, number | undefined>;
    for (const [name, , status] of ROWS) {
      const code = (ErrorCode as unknown as Record<string, number>)[name!]!;
      const expected = statusByName[status!];
      expect(expected, `docs/wire.md: '${status}' (for ${name}) is not a gRPC status name`).toBeTypeOf('number');
      expect(grpc.status[grpcStatusFor(code)], `gRPC status of ${name}`).toBe(status);
    }
  });
});
