import { describe, expect, it } from 'vitest';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { resolveClusterOptions, type ClusterOptionsInput } from '../../../../deploy/local/options.js';

function problemsOf(input: ClusterOptionsInput): string[] {
  try {
    resolveClusterOptions(input, '/work');
  } catch (err) {
    expect(err).toBeInstanceOf(ConveyorError);
    expect((err as ConveyorError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    return String((err as ConveyorError).fields.problems).split('\n');
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('resolveClusterOptions', () => {
  it('fills the dev default: 1 nameserver, 2 groups, 1 slave, base port 9876, auto-create on, async modes', () => {
    expect(resolveClusterOptions({}, '/work')).toEqual({
      dir: '/work/.conveyor/cluster',
      nameservers: 1,
      groups: 2,
      slaves: 1,
      basePort: 9876,
      host: '127.0.0.1',
      clusterName: 'DefaultCluster',
      flush: 'async',
      replication: 'async',
      autoCreateTopics: true,
      logLevel: 'info',
      brokerExpiryMs: null,
      registerIntervalMs: null,
      nameserverArgs: [],
      brokerArgs: [],
    });
  });

  it('reads numbers given as command-line strings and resolves the dir against the working directory', () => {
    const options = resolveClusterOptions({ dir: 'c', nameservers: '2', groups: '0', slaves: '3', basePort: '20000', flush: 'sync' }, '/work');
    expect(options).toMatchObject({ dir: '/work/c', nameservers: 2, groups: 0, slaves: 3, basePort: 20000, flush: 'sync' });
  });

  it('lists every bad option at once, each by its flag', () => {
    const problems = problemsOf({ nameservers: '0', groups: 'two', slaves: 10, basePort: 80, flush: 'never', replication: 'x', logLevel: 'loud', clusterName: 'a b' });
    expect(problems).toHaveLength(8);
    expect(problems).toEqual([
      expect.stringContaining('--nameservers: 0 is outside 1…10'),
      expect.stringContaining("--groups: 'two' is not a whole number"),
      expect.stringContaining('--slaves: 10 is outside 0…9'),
      expect.stringContaining('--base-port: 80 is outside 1024…65535'),
      expect.stringContaining("--flush: 'never' is not one of async, sync"),
      expect.stringContaining("--replication: 'x'"),
      expect.stringContaining("--log-level: 'loud'"),
      expect.stringContaining("--cluster-name: 'a b'"),
    ]);
  });

  it('refuses a base port whose layout would run past 65535 and says which base fits', () => {
    const [problem] = problemsOf({ basePort: 65000 });
    expect(problem).toMatch(/highest port of this layout at 66147.*at most 64388/);
    expect(() => resolveClusterOptions({ basePort: 64388 })).not.toThrow();
  });

  it('refuses a broker expiry that is not longer than the register interval', () => {
    expect(problemsOf({ brokerExpiryMs: 1000, registerIntervalMs: 1000 })[0]).toMatch(/--broker-expiry-ms \(1000\) must be longer than --register-interval-ms \(1000\)/);
  });

  it('lets explicit heartbeat values win over --fast-heartbeats', () => {
    expect(resolveClusterOptions({ fastHeartbeats: true })).toMatchObject({ brokerExpiryMs: 3000, registerIntervalMs: 1000 });
    expect(resolveClusterOptions({ fastHeartbeats: true, brokerExpiryMs: '5000' })).toMatchObject({ brokerExpiryMs: 5000, registerIntervalMs: 1000 });
  });
});
