import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { bindServer, SERVER_OPTIONS } from '../../../common/grpc.js';
import { SERVER_FLOW_CONTROL_WINDOW_BYTES } from '../../../common/grpc-server-window.js';

const HTTP2_DEFAULT_WINDOW_BYTES = 65_535;

describe('gRPC server receive window', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('advertises a 16 MiB stream window and raises the connection window of every session', async () => {
    const server = new grpc.Server(SERVER_OPTIONS);
    const port = await bindServer(server, '127.0.0.1', 0);
    cleanups.push(() => server.forceShutdown());
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
    expect(settings.initialWindowSize).toBe(SERVER_FLOW_CONTROL_WINDOW_BYTES);
    // The connection window grows by a WINDOW_UPDATE the server sends once the session exists.
    await expect.poll(() => session.state.remoteWindowSize ?? 0, { timeout: 5_000 }).toBeGreaterThanOrEqual(SERVER_FLOW_CONTROL_WINDOW_BYTES);
  });

  it('leaves a server bound without bindServer at the HTTP/2 default (what the helper changes)', async () => {
    const server = new grpc.Server(SERVER_OPTIONS);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    cleanups.push(() => server.forceShutdown());
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
    expect(settings.initialWindowSize ?? HTTP2_DEFAULT_WINDOW_BYTES).toBe(HTTP2_DEFAULT_WINDOW_BYTES);
    expect(session.state.remoteWindowSize).toBe(HTTP2_DEFAULT_WINDOW_BYTES);
  });
});
