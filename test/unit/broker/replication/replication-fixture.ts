// In-process replication rig: real MessageStores in temp dirs, a real gRPC server on loopback
// serving the master's Replication handlers, and slaves started against it. Everything registers
// its own cleanup (onTestFinished), in reverse order of creation.
import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { expect, onTestFinished, vi } from 'vitest';
import { ReplicationService } from '../../../../proto/index.js';
import { bindServer, SERVER_OPTIONS } from '../../../../common/grpc.js';
import type { Logger } from '../../../../common/logging.js';
import { MessageStore, type AppendResult, type StoreOptions } from '../../../../broker/store/index.js';
import type { SlaveStore } from '../../../../broker/replication/index.js';
import {
  createReplicationMaster,
  startReplicationSlave,
  type ReplicationMaster,
  type ReplicationMasterOptions,
  type ReplicationSlaveHandle,
  type ReplicationSlaveStartOptions,
} from '../../../../broker/replication/index.js';
import { tempDir } from '../../../helpers/processes.js';

export const SEGMENT_BYTES = 64 * 1024;
export const CLUSTER = 'TestCluster';
export const BROKER = 'broker-a';

export type LogRecord = Record<string, unknown> & { msg?: string };

/** A pino logger whose records are kept for assertions. */
export function capturingLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) });
  return { log, records };
}

export function newDataDir(): string {
  const dir = tempDir('conveyor-ha-');
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store; closed at the end of the test unless closed before. */
export async function openStore(dataDir: string, options: Partial<StoreOptions> = {}): Promise<MessageStore> {
  const store = await MessageStore.open({ dataDir, segmentBytes: SEGMENT_BYTES, backgroundTimers: false, flushIntervalMs: 200, ...options });
  onTestFinished(() => store.close().catch(() => undefined));
  return store;
}

export interface MasterRig {
  master: ReplicationMaster;
  address: string;
  port: number;
  /** Stops the server and the master object (a dead master, as seen by its slaves). */
  stop(): Promise<void>;
}

export async function startMaster(store: MessageStore, log: Logger, port = 0, options: Partial<ReplicationMasterOptions> = {}): Promise<MasterRig> {
  const master = createReplicationMaster({
    store,
    clusterName: CLUSTER,
    brokerName: BROKER,
    segmentBytes: SEGMENT_BYTES,
    log,
    keepaliveIntervalMs: 100,
    ...options,
  });
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(ReplicationService, master.handlers);
  const boundPort = await bindServer(server, '127.0.0.1', port);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await master.close();
    server.forceShutdown();
  };
  onTestFinished(stop);
  return { master, address: `127.0.0.1:${boundPort}`, port: boundPort, stop };
}

export function startSlave(
  store: ReplicationSlaveStartOptions['store'],
  masterAddress: string | undefined,
  log: Logger,
  options: Partial<ReplicationSlaveStartOptions> = {},
): ReplicationSlaveHandle {
  const slave = startReplicationSlave({
    store,
    masterAddress,
    clusterName: CLUSTER,
    brokerName: BROKER,
    brokerId: 1,
    segmentBytes: SEGMENT_BYTES,
    metadataSyncIntervalMs: 60_000,
    log,
    reportIntervalMs: 100,
    masterSilenceMsMax: 2_000,
    ...options,
  });
  onTestFinished(() => slave.close());
  return slave;
}

let messageCounter = 0;

/** Appends `count` messages of `bodyBytes` to one queue, in batches of up to 16. */
export async function appendMessages(store: MessageStore, topic: string, queueId: number, count: number, bodyBytes = 512): Promise<AppendResult[]> {
  const results: AppendResult[] = [];
  for (let done = 0; done < count; ) {
    const batch = Math.min(16, count - done);
    const messages = Array.from({ length: batch }, () => {
      messageCounter += 1;
      const body = Buffer.alloc(bodyBytes, messageCounter % 251);
      return { messageId: `m-${process.pid}-${messageCounter}`, keys: [`k${messageCounter % 7}`], tag: `t${messageCounter % 3}`, properties: { n: String(messageCounter) }, body, bornTimestampMs: Date.now(), flags: 0 };
    });
    results.push(...(await store.append(topic, queueId, messages)));
    done += batch;
  }
  return results;
}

/** End of the last record appended (what a sync send waits for). */
export function endOf(results: readonly AppendResult[]): number {
  const last = results[results.length - 1];
  if (last === undefined) throw new Error('no results');
  return last.physicalOffset + last.size;
}

/** Every commit-log byte in [from, to). */
export async function readAll(store: MessageStore, from: number, to: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = from; at < to; ) {
    const part = await store.readCommitLog(at, Math.min(4 * 1024 * 1024, to - at));
    if (part.length === 0) throw new Error(`no bytes at ${at}`);
    parts.push(part);
    at += part.length;
  }
  return Buffer.concat(parts);
}

export async function waitCaughtUp(slaveStore: MessageStore, masterStore: MessageStore, timeout = 15_000): Promise<void> {
  await vi.waitFor(() => expect(slaveStore.maxPhysicalOffset).toBe(masterStore.maxPhysicalOffset), { timeout, interval: 20 });
}

export function findLog(records: readonly LogRecord[], msg: string, fields: Record<string, unknown> = {}): LogRecord | undefined {
  return records.find((r) => r.msg === msg && Object.entries(fields).every(([k, v]) => r[k] === v));
}

/** `store` as the slave's store, with `append` in place of its appendCommitLogBytes (to hold or count appends). */
export function slaveStoreWithAppend(store: MessageStore, append: SlaveStore['appendCommitLogBytes']): SlaveStore {
  return {
    get maxPhysicalOffset() {
      return store.maxPhysicalOffset;
    },
    get flushedPhysicalOffset() {
      return store.flushedPhysicalOffset;
    },
    get receivedPhysicalOffset() {
      return store.receivedPhysicalOffset;
    },
    appendCommitLogBytes: append,
    flushCommitLog: () => store.flushCommitLog(),
    onFlushed: (listener) => store.onFlushed(listener),
    meta: store.meta,
  };
}
