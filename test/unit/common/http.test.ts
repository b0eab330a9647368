import { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry, startOpsServer, type OpsServer } from '../../../common/http.js';
import { silentLogger } from '../../../common/logging.js';

describe('ops HTTP server', () => {
  let ready = false;
  let server: OpsServer;
  const registry = createMetricsRegistry('test-process');
  const counter = new Counter({ name: 'conveyor_test_things_total', help: 'things', registers: [registry] });

  beforeAll(async () => {
    server = await startOpsServer({ host: '127.0.0.1', port: 0, registry, isReady: () => ready, status: () => ({ role: 'master' }), log: silentLogger() });
  });
  afterAll(() => server.close());

  const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

  it('answers /healthz while the process lives', async () => {
    const res = await get('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', role: 'master' });
  });

  it('answers /readyz with 503 until ready, then 200', async () => {
    expect((await get('/readyz')).status).toBe(503);
    ready = true;
    expect((await get('/readyz')).status).toBe(200);
  });

  it('serves Prometheus text at /metrics with the process label', async () => {
    counter.inc(3);
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('conveyor_test_things_total{process="test-process"} 3');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('answers unknown paths with 404', async () => {
    expect((await get('/nope')).status).toBe(404);
  });
});
