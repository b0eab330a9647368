import { describe, expect, it } from 'vitest';
import { BROKER_SETTINGS, parseBrokerFlags } from '../../../broker/config.js';
import { loadConfig } from '../../../common/config.js';
import { ErrorCode, isConveyorError } from '../../../common/errors.js';

const load = (args: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(BROKER_SETTINGS, { flags: parseBrokerFlags(args), env });

describe('broker settings', () => {
  it('take the issue\'s flags and fill documented defaults', () => {
    const config = load(['--cluster', 'C', '--name', 'broker-a', '--id', '1', '--port', '0', '--http-port', '0', '--nameservers', 'h1:1,h2:2', '--data', '/tmp/d', '--flush', 'sync', '--replication', 'sync']);
    expect(config).toMatchObject({
      clusterName: 'C', brokerName: 'broker-a', brokerId: 1, port: 0, httpPort: 0, nameservers: ['h1:1', 'h2:2'], dataDir: '/tmp/d', flushMode: 'sync', replicationMode: 'sync',
      autoCreateTopics: false, defaultQueueCount: 8, registerIntervalMs: 10_000, segmentBytes: 1024 ** 3, flushIntervalMs: 500, retentionHours: 72,
      longPollMaxMs: 15_000, dedupWindowMs: 120_000, consumerExpiryMs: 30_000, advertisedHost: '127.0.0.1',
      replicationTimeoutMs: 1_500, metadataSyncIntervalMs: 5_000, gcMetrics: false,
    });
    expect(load(['--name', 'broker-a', '--data', '/tmp/d', '--gc-metrics']).gcMetrics).toBe(true);
  });

  it('work from the environment alone (Kubernetes)', () => {
    const config = load([], {
      CONVEYOR_BROKER_NAME: 'broker-b', CONVEYOR_DATA_DIR: '/data', CONVEYOR_CLUSTER_NAME: 'K', CONVEYOR_BROKER_ID: '2', CONVEYOR_NAMESERVERS: 'ns-0:9876,ns-1:9876',
      CONVEYOR_AUTO_CREATE_TOPICS: 'true', CONVEYOR_FLUSH_MODE: 'sync', CONVEYOR_ADVERTISED_HOST: 'broker-b-2.svc', CONVEYOR_LONG_POLL_MAX_MS: '5000',
    });
    expect(config).toMatchObject({ brokerName: 'broker-b', dataDir: '/data', clusterName: 'K', brokerId: 2, nameservers: ['ns-0:9876', 'ns-1:9876'], autoCreateTopics: true, flushMode: 'sync', advertisedHost: 'broker-b-2.svc', longPollMaxMs: 5_000 });
  });

  it('take the replication timeout and the metadata copy interval from flags or the environment', () => {
    expect(load(['--name', 'b', '--data', 'd', '--replication-timeout-ms', '800', '--metadata-sync-interval-ms', '250'])).toMatchObject({ replicationTimeoutMs: 800, metadataSyncIntervalMs: 250 });
    expect(load(['--name', 'b', '--data', 'd'], { CONVEYOR_REPLICATION_TIMEOUT_MS: '900', CONVEYOR_METADATA_SYNC_INTERVAL_MS: '300' })).toMatchObject({ replicationTimeoutMs: 900, metadataSyncIntervalMs: 300 });
    expect(() => load(['--name', 'b', '--data', 'd', '--replication-timeout-ms', '0'])).toThrow(/replicationTimeoutMs/);
  });

  it('let flags override the environment', () => {
    expect(load(['--name', 'from-flag', '--data', 'd'], { CONVEYOR_BROKER_NAME: 'from-env' }).brokerName).toBe('from-flag');
  });

  it('treat a bare --auto-create-topics as true and accept an explicit value', () => {
    expect(load(['--name', 'b', '--data', 'd', '--auto-create-topics']).autoCreateTopics).toBe(true);
    expect(load(['--name', 'b', '--data', 'd', '--auto-create-topics', 'false']).autoCreateTopics).toBe(false);
  });

  it('list every problem at once: missing name and data dir, bad id, bad flush mode, bad broker name', () => {
    try {
      load(['--id', '-1', '--flush', 'sometimes']);
      expect.unreachable();
    } catch (err) {
      expect(isConveyorError(err, ErrorCode.CONFIG_INVALID)).toBe(true);
      const message = (err as Error).message;
      expect(message).toMatch(/brokerName: required \(set --name or CONVEYOR_BROKER_NAME\)/);
      expect(message).toMatch(/dataDir: required \(set --data or CONVEYOR_DATA_DIR\)/);
      expect(message).toMatch(/brokerId .*below the minimum 0/);
      expect(message).toMatch(/flushMode .*not one of async, sync/);
    }
    expect(() => load(['--name', 'bad name', '--data', 'd'])).toThrow(/brokerName .*not valid/);
  });
});
