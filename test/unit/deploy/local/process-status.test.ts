import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusOf } from '../../../../deploy/local/process-status.js';
import type { ProcessRecord } from '../../../../deploy/local/state-file.js';

describe('statusOf', () => {
  let server: Server;
  let httpPort = 0;
  let reply: { code: number; body: Record<string, unknown> } = { code: 200, body: {} };

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(reply.code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    httpPort = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const record = (role: ProcessRecord['role']): ProcessRecord => ({
    name: role === 'nameserver' ? 'nameserver-0' : 'broker-a-1', role, brokerName: role === 'nameserver' ? null : 'broker-a', brokerId: role === 'nameserver' ? null : 1,
    host: '127.0.0.1', port: 1, httpPort, haPort: null, args: [], dataDir: null, logFile: '/l', pid: 99, startedAtMs: 0,
  });

  it('reads readiness and the replication lag from a broker\'s /readyz JSON', async () => {
    reply = { code: 200, body: { role: 'slave', replicationLagBytes: 2048, replicationLagMs: '15' } };
    expect(await statusOf(record('slave'), 'running')).toMatchObject({ state: 'ready', alive: true, pid: 99, replicationLagBytes: 2048, replicationLagMs: 15 });
  });

  it('shows a running process that answers 503 as starting, with no lag before replication reports one', async () => {
    reply = { code: 503, body: { status: 'not ready' } };
    expect(await statusOf(record('master'), 'running')).toMatchObject({ state: 'starting', alive: false, pid: 99, replicationLagBytes: null });
  });

  it('does not probe a paused or dead process, and shows no pid for a dead one', async () => {
    reply = { code: 200, body: {} };
    expect(await statusOf(record('nameserver'), 'paused')).toMatchObject({ state: 'paused', alive: false, pid: 99 });
    expect(await statusOf(record('nameserver'), 'gone')).toMatchObject({ state: 'dead', alive: false, pid: null });
  });
});
