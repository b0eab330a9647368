import { describe, expect, it } from 'vitest';
import {
  GROUPS_MAX,
  NAMESERVERS_MAX,
  SLAVES_MAX,
  groupName,
  planLayout,
  portsOf,
  type ProcessSpec,
} from '../../../../deploy/local/layout.js';
import { resolveClusterOptions, type ClusterOptionsInput } from '../../../../deploy/local/options.js';

function plan(input: ClusterOptionsInput): ProcessSpec[] {
  return planLayout(resolveClusterOptions({ dir: '/tmp/c', ...input })).processes;
}

function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args[at + 1];
}

describe('planLayout', () => {
  it('plans the dev default as one nameserver and two groups of a master and a slave', () => {
    const processes = plan({});
    expect(processes.map((p) => [p.name, p.role, p.brokerName, p.brokerId])).toEqual([
      ['nameserver-0', 'nameserver', null, null],
      ['broker-a-0', 'master', 'broker-a', 0],
      ['broker-a-1', 'slave', 'broker-a', 1],
      ['broker-b-0', 'master', 'broker-b', 0],
      ['broker-b-1', 'slave', 'broker-b', 1],
    ]);
  });

  it('puts the default ports where RocketMQ users expect them', () => {
    const byName = new Map(plan({}).map((p) => [p.name, p]));
    expect(byName.get('nameserver-0')).toMatchObject({ port: 9876, httpPort: 9976 });
    expect(byName.get('broker-a-0')).toMatchObject({ port: 10911, httpPort: 10912 });
    expect(byName.get('broker-a-1')).toMatchObject({ port: 10921, httpPort: 10922 });
    expect(byName.get('broker-b-0')).toMatchObject({ port: 11011, httpPort: 11012 });
  });

  it('derives every port from the base port', () => {
    const byName = new Map(plan({ basePort: 20000, nameservers: 2 }).map((p) => [p.name, p]));
    expect(byName.get('nameserver-1')).toMatchObject({ port: 20001, httpPort: 20101 });
    expect(byName.get('broker-b-1')).toMatchObject({ port: 21145, httpPort: 21146 });
  });

  it('gives N nameservers and M groups of 1+S brokers, each with its own data dir and log file', () => {
    const processes = plan({ nameservers: 3, groups: 4, slaves: 2 });
    expect(processes).toHaveLength(3 + 4 * 3);
    expect(processes.filter((p) => p.role === 'master').map((p) => p.name)).toEqual(['broker-a-0', 'broker-b-0', 'broker-c-0', 'broker-d-0']);
    expect(processes.filter((p) => p.brokerName === 'broker-d').map((p) => p.brokerId)).toEqual([0, 1, 2]);
    expect(new Set(processes.map((p) => p.logFile)).size).toBe(processes.length);
    const dataDirs = processes.filter((p) => p.role !== 'nameserver').map((p) => p.dataDir);
    expect(new Set(dataDirs).size).toBe(12);
    expect(dataDirs[0]).toBe('/tmp/c/data/broker-a-0');
    expect(processes[0]?.logFile).toBe('/tmp/c/logs/nameserver-0.log');
    expect(processes[0]?.dataDir).toBeNull();
  });

  it('never gives two processes the same port, up to the largest layout', () => {
    const processes = plan({ nameservers: NAMESERVERS_MAX, groups: GROUPS_MAX, slaves: SLAVES_MAX, basePort: 1024 });
    const ports = processes.flatMap((p) => [p.port, p.httpPort, ...(p.haPort === null ? [] : [p.haPort])]);
    expect(new Set(ports).size).toBe(ports.length);
    expect(new Set(processes.flatMap(portsOf).map((p) => p.port)).size).toBe(ports.length);
    expect(processes.at(-1)?.name).toBe('broker-z-9');
  });

  it('builds nameserver arguments with ports, loopback host and log level', () => {
    const [ns] = plan({ logLevel: 'debug', brokerExpiryMs: 4000 });
    expect(ns?.args[0]).toBe('nameserver');
    expect(flag(ns?.args ?? [], '--port')).toBe('9876');
    expect(flag(ns?.args ?? [], '--http-port')).toBe('9976');
    expect(flag(ns?.args ?? [], '--host')).toBe('127.0.0.1');
    expect(flag(ns?.args ?? [], '--log-level')).toBe('debug');
    expect(flag(ns?.args ?? [], '--broker-expiry-ms')).toBe('4000');
  });

  it('builds broker arguments naming the group, id, every nameserver, data dir and modes', () => {
    const slave = plan({ nameservers: 2, flush: 'sync', replication: 'sync' }).find((p) => p.name === 'broker-b-1');
    const args = slave?.args ?? [];
    expect(args[0]).toBe('broker');
    expect(flag(args, '--cluster')).toBe('DefaultCluster');
    expect(flag(args, '--name')).toBe('broker-b');
    expect(flag(args, '--id')).toBe('1');
    expect(flag(args, '--port')).toBe('11021');
    expect(flag(args, '--http-port')).toBe('11022');
    expect(flag(args, '--nameservers')).toBe('127.0.0.1:9876,127.0.0.1:9877');
    expect(flag(args, '--data')).toBe('/tmp/c/data/broker-b-1');
    expect(flag(args, '--flush')).toBe('sync');
    expect(flag(args, '--replication')).toBe('sync');
    expect(flag(args, '--auto-create-topics')).toBe('true');
    expect(flag(args, '--register-interval-ms')).toBeUndefined();
  });

  it('passes short heartbeat settings with --fast-heartbeats, and extra arguments verbatim at the end', () => {
    const processes = plan({ fastHeartbeats: true, brokerArgs: ['--segment-bytes', '1048576'], nameserverArgs: ['--scan-interval-ms=100'] });
    const ns = processes[0];
    const broker = processes[1];
    expect(flag(ns?.args ?? [], '--broker-expiry-ms')).toBe('3000');
    expect(ns?.args.at(-1)).toBe('--scan-interval-ms=100');
    expect(flag(broker?.args ?? [], '--register-interval-ms')).toBe('1000');
    expect(broker?.args.slice(-2)).toEqual(['--segment-bytes', '1048576']);
  });

  it('turns auto-create off when asked', () => {
    const broker = plan({ autoCreateTopics: false })[1];
    expect(flag(broker?.args ?? [], '--auto-create-topics')).toBe('false');
  });

  it('names groups by letter', () => {
    expect(groupName(0)).toBe('broker-a');
    expect(groupName(25)).toBe('broker-z');
    expect(() => groupName(26)).toThrow(/out of range/);
  });
});
