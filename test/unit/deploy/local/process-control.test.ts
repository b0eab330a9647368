import { describe, expect, it } from 'vitest';
import { ConveyorError } from '../../../../common/errors.js';
import { isPidAlive, parseStopSignal, pidState } from '../../../../deploy/local/process-control.js';

describe('parseStopSignal', () => {
  it('accepts the four signals by short or SIG name, in any case', () => {
    expect(parseStopSignal('KILL')).toBe('KILL');
    expect(parseStopSignal('sigstop')).toBe('STOP');
    expect(parseStopSignal(' cont ')).toBe('CONT');
    expect(parseStopSignal('SIGTERM')).toBe('TERM');
  });

  it('refuses any other signal, listing the allowed ones', () => {
    expect(() => parseStopSignal('HUP')).toThrow(ConveyorError);
    expect(() => parseStopSignal('HUP')).toThrow("invalid --signal 'HUP': expected one of TERM, KILL, STOP, CONT");
  });
});

describe('pidState', () => {
  it('sees this process alive but not as a conveyor process, and a free pid as gone', () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(pidState(process.pid, '/nowhere/bin/conveyor.js')).toBe('gone');
    expect(pidState(null, '/nowhere/bin/conveyor.js')).toBe('gone');
    expect(isPidAlive(4_194_305)).toBe(false);
  });
});
