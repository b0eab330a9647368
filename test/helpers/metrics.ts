// A process's Prometheus metrics as a test reads them: one value off its HTTP /metrics.

/** The value of the first sample of `name` (any labels) on http://127.0.0.1:<httpPort>/metrics; NaN when absent. */
export async function metricValue(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

/** Pulls and subscriptions the broker holds waiting right now (its long-poll gauge, broker/metrics.ts). */
export function longPollWaiting(httpPort: number): Promise<number> {
  return metricValue(httpPort, 'conveyor_broker_long_poll_waiting');
}
