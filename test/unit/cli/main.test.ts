import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, errorLine } from '../../../cli/main.js';
import { integerOption, table } from '../../../cli/shared.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';

describe('conveyor CLI plumbing', () => {
  it('prints an error as one line: error: CODE: message', () => {
    const err = new ConveyorError(ErrorCode.CONFIG_INVALID, 'invalid configuration:\n  - a\n  - b');
    expect(errorLine(err)).toBe('error: CONFIG_INVALID: invalid configuration: - a - b');
    expect(errorLine(new Error('boom'))).toBe('error: INTERNAL: boom');
  });

  it('hands root options typed on the line to a subcommand that declares the same option', async () => {
    const program = buildProgram();
    let seen: Record<string, unknown> = {};
    program
      .command('probe')
      .option('--json')
      .option('--nameservers <n>')
      .action((_opts: unknown, cmd: Command) => {
        seen = cmd.opts();
      });
    await program.parseAsync(['probe', '--nameservers', '3', '--json'], { from: 'user' });
    expect(seen).toEqual({ nameservers: '3', json: true });
    // A root default (not typed) is not handed on.
    const again = buildProgram();
    again.command('probe').option('--nameservers <n>').action((_opts: unknown, cmd: Command) => void (seen = cmd.opts()));
    await again.parseAsync(['probe'], { from: 'user' });
    expect(seen).toEqual({});
  });

  it('parses whole-number flags within bounds and refuses the rest', () => {
    const parse = integerOption(1, 10);
    expect(parse('7')).toBe(7);
    for (const bad of ['0', '11', 'x', '1.5', '-1']) expect(() => parse(bad)).toThrow(/whole number from 1 to 10/);
  });

  it('lays text tables out in aligned columns', () => {
    expect(table(['A', 'LONGER'], [['xyz', 1], ['b', 22]])).toBe('A    LONGER\nxyz  1\nb    22');
  });
});
