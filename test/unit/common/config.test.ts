import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envVarName, flagName, loadConfig, redactConfig, type Schema } from '../../../common/config.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import { tempDir } from '../../helpers/processes.js';

const schema = {
  port: { kind: 'int', default: 9876, min: 0, max: 65535, description: 'port' },
  brokerName: { kind: 'string', description: 'name', flag: '--name' },
  flushMode: { kind: 'enum', default: 'async', values: ['async', 'sync'] as const, description: 'flush' },
  autoCreate: { kind: 'bool', default: false, description: 'auto create' },
  nameservers: { kind: 'list', default: ['127.0.0.1:9876'], description: 'nameservers' },
  password: { kind: 'string', default: '', secret: true, description: 'secret' },
} as const satisfies Schema;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConveyorError);
    expect((err as ConveyorError).code).toBe(ErrorCode.CONFIG_INVALID);
    return String((err as ConveyorError).fields.problems).split('\n');
  }
  throw new Error('expected a CONFIG_INVALID error');
}

describe('loadConfig', () => {
  const dir = tempDir();

  it('names environment variables and flags after the setting', () => {
    expect(envVarName('httpPort')).toBe('CONVEYOR_HTTP_PORT');
    expect(envVarName('brokerName')).toBe('CONVEYOR_BROKER_NAME');
    expect(flagName('httpPort')).toBe('--http-port');
    expect(flagName('brokerName', schema.brokerName)).toBe('--name');
  });

  it('applies defaults, then file, then environment, then flags', () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'port: 1000\nbrokerName: from-file\nflushMode: sync\nautoCreate: true\n');
    const fromFile = loadConfig(schema, { file, env: {} });
    expect(fromFile).toMatchObject({ port: 1000, brokerName: 'from-file', flushMode: 'sync', autoCreate: true, nameservers: ['127.0.0.1:9876'] });
    const fromEnv = loadConfig(schema, { file, env: { CONVEYOR_PORT: '2000', CONVEYOR_NAMESERVERS: 'a:1, b:2' } });
    expect(fromEnv.port).toBe(2000);
    expect(fromEnv.nameservers).toEqual(['a:1', 'b:2']);
    const fromFlags = loadConfig(schema, { file, env: { CONVEYOR_PORT: '2000' }, flags: { port: '3000', brokerName: 'b' } });
    expect(fromFlags.port).toBe(3000);
    expect(fromFlags.brokerName).toBe('b');
  });

  it('lists every bad setting at once, each by name and source', () => {
    const problems = problemsOf(() =>
      loadConfig(schema, { env: { CONVEYOR_PORT: 'abc', CONVEYOR_FLUSH_MODE: 'sometimes' }, flags: { autoCreate: 'maybe' } }),
    );
    expect(problems).toHaveLength(4);
    expect(problems.some((p) => p.startsWith('port (from environment CONVEYOR_PORT)'))).toBe(true);
    expect(problems.some((p) => p.startsWith('brokerName: required (set --name or CONVEYOR_BROKER_NAME)'))).toBe(true);
    expect(problems.some((p) => p.includes('flushMode') && p.includes('async, sync'))).toBe(true);
    expect(problems.some((p) => p.startsWith('autoCreate (from flag --auto-create)'))).toBe(true);
  });

  it('rejects out-of-range numbers and unknown keys in a file', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'port: 70000\nbrokerName: x\nportt: 1\n');
    const problems = problemsOf(() => loadConfig(schema, { file, env: {} }));
    expect(problems.some((p) => p.includes('70000 is above the maximum 65535'))).toBe(true);
    expect(problems.some((p) => p.includes("unknown setting 'portt'"))).toBe(true);
  });

  it('reports an unreadable config file instead of crashing', () => {
    const problems = problemsOf(() => loadConfig(schema, { file: join(dir, 'missing.yaml'), env: {}, flags: { brokerName: 'a' } }));
    expect(problems[0]).toMatch(/config file .*missing\.yaml/);
  });

  it('redacts secret settings for the start-up log line', () => {
    const config = loadConfig(schema, { env: {}, flags: { brokerName: 'a', password: 'hunter2' } });
    expect(redactConfig(schema, config)).toMatchObject({ password: '***', brokerName: 'a' });
  });
});
