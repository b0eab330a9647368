// Per-request metrics (broker/metrics.ts RequestMetrics) through the request runner every Broker
// request goes through (handlers.ts): what a scrape reads must be exactly what was recorded, by
// method and code, though the counts reach prom-client only when it collects.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createBrokerMetrics, REQUEST_METHODS_MAX, type MetricsSources } from '../../../../broker/metrics.js';
import { createRequestRunner, RequestGate } from '../../../../broker/services/request-runner.js';
import { ConveyorError, ErrorCode } from '../../../../common/errors.js';
import { silentLogger } from '../../../../common/logging.js';

const sources: MetricsSources = {
  store: { minPhysicalOffset: () => 0, maxPhysicalOffset: () => 0, flushedPhysicalOffset: () => 0 },
  dedupEntries: () => 0,
  topicCount: () => 0,
  longPollWaiting: () => 0,
  inFlightRequests: () => 0,
  replication: { lag: () => ({ bytes: 0, ms: 0 }), connectedSlaves: () => 0, masterConnected: () => 0, waitersRejected: () => 0 },
};

/** The value of one sample line of the text exposition, or undefined if it is absent. */
function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('request metrics', () => {
  it('counts every request by method and code and times the ones that ran, exactly, across scrapes', async () => {
    const registry = new Registry();
    const metrics = createBrokerMetrics(registry, sources);
    const gate = new RequestGate();
    const run = createRequestRunner(gate, metrics, silentLogger());
    for (let i = 0; i < 5; i++) await run('send', () => 'ok');
    await expect(run('send', () => Promise.reject(new ConveyorError(ErrorCode.TOPIC_NOT_FOUND, 'no such topic', {})))).rejects.toThrow('no such topic');
    await expect(run('pull', () => { throw new Error('bug'); })).rejects.toThrow('bug');
    let text = await registry.metrics();
    expect(sample(text, 'conveyor_broker_requests_total{method="send",code="OK"}')).toBe(5);
    expect(sample(text, 'conveyor_broker_requests_total{method="send",code="TOPIC_NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'conveyor_broker_requests_total{method="pull",code="INTERNAL"}')).toBe(1);
    expect(sample(text, 'conveyor_broker_request_duration_seconds_count{method="send"}')).toBe(6);
    expect(sample(text, 'conveyor_broker_request_duration_seconds_count{method="pull"}')).toBe(1);

    // Counts keep adding up over later scrapes (no double counting, nothing lost).
    await run('send', () => 'ok');
    gate.close();
    await expect(run('send', () => 'never')).rejects.toThrow(/shutting down/);
    text = await registry.metrics();
    expect(sample(text, 'conveyor_broker_requests_total{method="send",code="OK"}')).toBe(6);
    expect(sample(text, 'conveyor_broker_requests_total{method="send",code="SHUTTING_DOWN"}')).toBe(1);
    // A request refused at the gate is counted, not timed (it did not run).
    expect(sample(text, 'conveyor_broker_request_duration_seconds_count{method="send"}')).toBe(7);
    text = await registry.metrics();
    expect(sample(text, 'conveyor_broker_requests_total{method="send",code="OK"}')).toBe(6);
  });

  it('refuses more method names than its bound (a programming error, not a request input)', () => {
    const metrics = createBrokerMetrics(new Registry(), sources);
    for (let i = 0; i < REQUEST_METHODS_MAX; i++) metrics.requests.count(`m${i}`, 'OK');
    expect(() => metrics.requests.count('one-more', 'OK')).toThrow(/request methods/);
  });
});
