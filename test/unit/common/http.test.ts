import { PerformanceObserver } from 'node:perf_hooks';
import { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMetricsRegistry, startOpsServer, type OpsServer } from '../../../common/http.js';
import { silentLogger } from '../../../common/logging.js';

describe('ops HTTP server', () => {
  let ready = false;
  let server: OpsServer;
  const registry = createMetricsRegistry('test-process', { gcMetrics: false });
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

  it("serves prom-client's default Node metrics; the GC histogram only when asked for", async () => {
    const names = ['process_cpu_user_seconds_total', 'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_resources_total', 'nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_heap_size_used_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_version_info'];
    const text = await (await get('/metrics')).text();
    for (const name of names) expect(text, name).toContain(`\n# TYPE ${name} `);
    expect(text).not.toContain('nodejs_gc_duration_seconds');
    const withGc = await createMetricsRegistry('gc-test', { gcMetrics: true }).metrics();
    for (const name of [...names, 'nodejs_gc_duration_seconds']) expect(withGc, name).toContain(`\n# TYPE ${name} `);
  });

  it('watches GCs through a PerformanceObserver only with gcMetrics', () => {
    const observe = vi.spyOn(PerformanceObserver.prototype, 'observe');
    const watched = (): string[] => observe.mock.calls.flatMap(([options]) => ('entryTypes' in options ? [...options.entryTypes] : [options.type]));
    try {
      createMetricsRegistry('no-gc', { gcMetrics: false });
      expect(watched()).not.toContain('gc');
      createMetricsRegistry('gc', { gcMetrics: true });
      expect(watched()).toContain('gc');
    } finally {
      observe.mockRestore();
    }
  });

  it('answers unknown paths with 404', async () => {
    expect((await get('/nope')).status).toBe(404);
  });
});
