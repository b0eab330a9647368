// The replication handshake (pure): the settings that must be equal on a master and its slave
// before a single byte is copied. Byte-for-byte copying only works when both sides lay the log out
// the same way (record format, segment size) and belong to the same broker group.
import type { conveyor } from '../../proto/index.js';
import { ConveyorError, ErrorCode } from '../../common/errors.js';

/** What a master and every one of its slaves must agree on. */
export interface ReplicationIdentity {
  clusterName: string;
  brokerName: string;
  recordFormatVersion: number;
  segmentBytes: number;
}

/** The handshake a slave sends as the first report of a stream. */
export function slaveHandshake(identity: ReplicationIdentity, brokerId: number): conveyor.IReplicationHandshake {
  return {
    clusterName: identity.clusterName,
    brokerName: identity.brokerName,
    brokerId,
    recordFormatVersion: identity.recordFormatVersion,
    segmentBytes: identity.segmentBytes,
  };
}

interface Mismatch {
  setting: string;
  masterValue: string | number;
  slaveValue: string | number;
}

/** Every setting that disagrees, in a fixed order (the first one names the error's fields). */
function handshakeMismatches(master: ReplicationIdentity, slave: conveyor.IReplicationHandshake): Mismatch[] {
  const pairs: Array<[string, string | number, string | number]> = [
    ['clusterName', master.clusterName, slave.clusterName ?? ''],
    ['brokerName', master.brokerName, slave.brokerName ?? ''],
    ['recordFormatVersion', master.recordFormatVersion, slave.recordFormatVersion ?? 0],
    ['segmentBytes', master.segmentBytes, Number(slave.segmentBytes ?? 0)],
  ];
  return pairs
    .filter(([, masterValue, slaveValue]) => masterValue !== slaveValue)
    .map(([setting, masterValue, slaveValue]) => ({ setting, masterValue, slaveValue }));
}

/**
 * Master side: accepts a slave's handshake or throws HANDSHAKE_MISMATCH naming each setting that
 * differs with both values. A missing handshake or a slave claiming brokerId 0 (the master's id) is
 * refused the same way, so that the slave's operator reads one kind of error for one kind of fix.
 * Returns the slave's brokerId.
 */
export function checkSlaveHandshake(master: ReplicationIdentity, handshake: conveyor.IReplicationHandshake | null | undefined): number {
  if (!handshake) {
    throw new ConveyorError(
      ErrorCode.HANDSHAKE_MISMATCH,
      'the first report of a replication stream must carry the handshake (cluster, broker name, record format version, segment size)',
      { setting: 'handshake' },
    );
  }
  const brokerId = Number(handshake.brokerId ?? 0);
  if (!Number.isSafeInteger(brokerId) || brokerId < 1) {
    throw new ConveyorError(
      ErrorCode.HANDSHAKE_MISMATCH,
      `brokerId differs: a slave needs brokerId >= 1, this one says ${brokerId} (0 is the master's id)`,
      { setting: 'brokerId', masterValue: 0, slaveValue: brokerId },
    );
  }
  const mismatches = handshakeMismatches(master, handshake);
  const first = mismatches[0];
  if (first === undefined) return brokerId;
  const listed = mismatches
    .map((m) => `${m.setting} differs: master has ${JSON.stringify(m.masterValue)}, slave ${brokerId} has ${JSON.stringify(m.slaveValue)}`)
    .join('; ');
  throw new ConveyorError(
    ErrorCode.HANDSHAKE_MISMATCH,
    `${listed}. Every broker of group ${JSON.stringify(master.brokerName)} must use the same settings; fix the slave's configuration (a different segment size needs an empty data directory)`,
    { setting: first.setting, masterValue: first.masterValue, slaveValue: first.slaveValue, mismatchCount: mismatches.length },
  );
}
