// The slave's HTTP/2 receive window towards its master: what the slave's channel advertises, seen
// from a plain HTTP/2 server standing in for the master, and which window the broker gives a slave.
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPLICATION_CHUNK_BYTES_MAX, REPLICATION_FLOW_CONTROL_WINDOW_BYTES } from '../../../../broker/replication/index.js';
import { slaveWindow } from '../../../../broker/replication/index.js';
import { capturingLogger, newDataDir, openStore, startSlave } from './replication-fixture.js';

const HTTP2_DEFAULT_WINDOW_BYTES = 65_535;

/** An HTTP/2 server that records the first session's SETTINGS and answers every stream UNIMPLEMENTED. */
async function settingsRecorder(): Promise<{ address: string; session: Promise<http2.ServerHttp2Session>; settings: Promise<http2.Settings> }> {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  let resolveSession!: (session: http2.ServerHttp2Session) => void;
  let resolveSettings!: (settings: http2.Settings) => void;
  const session = new Promise<http2.ServerHttp2Session>((resolve) => (resolveSession = resolve));
  const settings = new Promise<http2.Settings>((resolve) => (resolveSettings = resolve));
  server.on('session', (s) => {
    sessions.push(s);
    resolveSession(s);
    s.once('remoteSettings', resolveSettings);
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, session, settings };
}

describe('replication flow-control window', () => {
  it('grants the master the window it is given, per stream and per connection', async () => {
    expect(REPLICATION_FLOW_CONTROL_WINDOW_BYTES).toBeGreaterThanOrEqual(4 * REPLICATION_CHUNK_BYTES_MAX);
    const master = await settingsRecorder();
    const store = await openStore(newDataDir(), { flushMode: 'sync' });
    startSlave(store, master.address, capturingLogger().log, { flowControlWindowBytes: REPLICATION_FLOW_CONTROL_WINDOW_BYTES });
    // The stream window is announced in the slave's SETTINGS, the connection window by a WINDOW_UPDATE.
    const settings = await master.settings;
    expect(settings.initialWindowSize).toBe(REPLICATION_FLOW_CONTROL_WINDOW_BYTES);
    const session = await master.session;
    await expect.poll(() => session.state.remoteWindowSize ?? 0, { timeout: 5_000 }).toBeGreaterThanOrEqual(REPLICATION_FLOW_CONTROL_WINDOW_BYTES);
  });

  it("keeps HTTP/2's 64 KiB when given none", async () => {
    const master = await settingsRecorder();
    const store = await openStore(newDataDir());
    startSlave(store, master.address, capturingLogger().log);
    const settings = await master.settings;
    expect(settings.initialWindowSize ?? HTTP2_DEFAULT_WINDOW_BYTES).toBe(HTTP2_DEFAULT_WINDOW_BYTES);
  });

  it('is the large window for a slave under sync replication and the default under async', () => {
    expect(slaveWindow('sync')).toEqual({ flowControlWindowBytes: REPLICATION_FLOW_CONTROL_WINDOW_BYTES });
    expect(slaveWindow('async')).toEqual({});
  });
});
