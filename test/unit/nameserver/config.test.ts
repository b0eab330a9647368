import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../common/config.js';
import { ConveyorError, ErrorCode } from '../../../common/errors.js';
import { NAMESERVER_SETTINGS } from '../../../nameserver/config.js';

describe('nameserver settings', () => {
  it('default to port 9876, http port 9877 and a 30 s broker expiry', () => {
    const config = loadConfig(NAMESERVER_SETTINGS, { flags: {}, env: {} });
    expect(config).toMatchObject({ port: 9876, httpPort: 9877, brokerExpiryMs: 30_000, scanIntervalMs: 5_000, host: '0.0.0.0', logLevel: 'info' });
  });

  it('take CONVEYOR_* environment variables over defaults and flags over both', () => {
    const env = { CONVEYOR_BROKER_EXPIRY_MS: '3000', CONVEYOR_PORT: '1111', CONVEYOR_SCAN_INTERVAL_MS: '250' };
    const config = loadConfig(NAMESERVER_SETTINGS, { flags: { port: '2222' }, env });
    expect(config).toMatchObject({ port: 2222, brokerExpiryMs: 3_000, scanIntervalMs: 250 });
  });

  it('accept port 0 for an ephemeral port', () => {
    expect(loadConfig(NAMESERVER_SETTINGS, { flags: { port: '0', httpPort: '0' }, env: {} })).toMatchObject({ port: 0, httpPort: 0 });
  });

  it('list every bad setting by name at once', () => {
    let err: unknown;
    try {
      loadConfig(NAMESERVER_SETTINGS, { flags: { port: '70000', brokerExpiryMs: '10', logLevel: 'loud' }, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConveyorError);
    const e = err as ConveyorError;
    expect(e.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(e.message).toContain('port (from flag --port)');
    expect(e.message).toContain('brokerExpiryMs (from flag --broker-expiry-ms)');
    expect(e.message).toContain('logLevel (from flag --log-level)');
  });
});
