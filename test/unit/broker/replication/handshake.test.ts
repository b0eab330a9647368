import { describe, expect, it } from 'vitest';
import { checkSlaveHandshake, slaveHandshake, type ReplicationIdentity } from '../../../../broker/replication/handshake.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';

const master: ReplicationIdentity = { clusterName: 'DefaultCluster', brokerName: 'broker-a', recordFormatVersion: 1, segmentBytes: 65_536 };

function refusal(fn: () => unknown): ConveyorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConveyorError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('replication handshake', () => {
  it('accepts a slave with the same settings and returns its broker id', () => {
    expect(checkSlaveHandshake(master, slaveHandshake(master, 2))).toBe(2);
  });

  it.each([
    ['clusterName', { clusterName: 'OtherCluster' }, 'DefaultCluster', 'OtherCluster'],
    ['brokerName', { brokerName: 'broker-b' }, 'broker-a', 'broker-b'],
    ['recordFormatVersion', { recordFormatVersion: 2 }, 1, 2],
    ['segmentBytes', { segmentBytes: 131_072 }, 65_536, 131_072],
  ] as const)('refuses a different %s with HANDSHAKE_MISMATCH naming both values', (setting, change, masterValue, slaveValue) => {
    const err = refusal(() => checkSlaveHandshake(master, { ...slaveHandshake(master, 1), ...change }));
    expect(err.code).toBe(ErrorCode.HANDSHAKE_MISMATCH);
    expect(err.fields).toMatchObject({ setting, masterValue, slaveValue });
    expect(err.message).toContain(`${setting} differs`);
    expect(err.message).toContain(JSON.stringify(masterValue));
    expect(err.message).toContain(JSON.stringify(slaveValue));
  });

  it('lists every mismatching setting in one error', () => {
    const err = refusal(() => checkSlaveHandshake(master, { ...slaveHandshake(master, 1), brokerName: 'x', segmentBytes: 4096 }));
    expect(err.fields).toMatchObject({ setting: 'brokerName', mismatchCount: 2 });
    expect(err.message).toContain('segmentBytes differs');
  });

  it('refuses a first report without a handshake', () => {
    expect(refusal(() => checkSlaveHandshake(master, null)).code).toBe(ErrorCode.HANDSHAKE_MISMATCH);
  });

  it('refuses a slave that claims the master id 0', () => {
    const err = refusal(() => checkSlaveHandshake(master, slaveHandshake(master, 0)));
    expect(err.code).toBe(ErrorCode.HANDSHAKE_MISMATCH);
    expect(err.fields).toMatchObject({ setting: 'brokerId', slaveValue: 0 });
  });
});
