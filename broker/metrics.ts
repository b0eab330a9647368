// Prometheus metrics of the broker (prom-client), prefixed conveyor_broker_ (replication's
// conveyor_replication_). Topic labels are bounded by TOPICS_MAX (broker/topics/topics.ts); method and
// status labels by the proto.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { assert } from '../common/errors.js';

interface StoreGauges {
  minPhysicalOffset(): number;
  maxPhysicalOffset(): number;
  flushedPhysicalOffset(): number;
}

/** Replication as the gauges read it (broker/replication/index.ts). */
export interface ReplicationGauges {
  /** Master: the worst connected slave; slave: its own lag. */
  lag(): { bytes: number; ms: number };
  /** Master: slaves with an open stream; slave: 0. */
  connectedSlaves(): number;
  /** Slave: 1 while its stream to the master is open; master: 0. */
  masterConnected(): number;
  /** Master: sync sends answered SLAVE_TIMEOUT at once because SYNC_WAITERS_MAX already waited. */
  waitersRejected(): number;
}

/** Upper bounds (seconds) of conveyor_broker_request_duration_seconds. */
const REQUEST_SECONDS_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Method labels the request metrics keep apart: the Broker service has ~20 methods; past this a
 * method name is a programming error (labels come from code constants, never from requests).
 */
export const REQUEST_METHODS_MAX = 64;

/**
 * What every request records (count by method and code, latency by method), at the cost of a map
 * lookup and an increment: prom-client's own `inc`/`startTimer` validate and hash their label
 * objects on every call, a visible share of a master's CPU when each request carries one message
 * (docs/performance.md "Numbers that shaped the code"). Counts are handed to prom-client when it collects (a scrape), as one `inc` per
 * (method, code) with the count since the last collect; latencies go to per-method histogram
 * children (label hash resolved once). What a scrape reads is exactly what was recorded.
 */
class RequestMetrics {
  private readonly codes = new Map<string, Map<string, number>>();
  private readonly timers = new Map<string, Histogram.Internal<'method'>>();

  constructor(
    private readonly counter: Counter<'method' | 'code'>,
    private readonly histogram: Histogram<'method'>,
  ) {}

  /** One answered request: its method, its result code (OK or a ConveyorError code name). */
  count(method: string, code: string): void {
    let byCode = this.codes.get(method);
    if (byCode === undefined) {
      assert(this.codes.size < REQUEST_METHODS_MAX, `more than ${REQUEST_METHODS_MAX} request methods in metrics`);
      byCode = new Map();
      this.codes.set(method, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  /** How long one request took, in milliseconds. */
  observeMs(method: string, durationMs: number): void {
    let timer = this.timers.get(method);
    if (timer === undefined) {
      assert(this.timers.size < REQUEST_METHODS_MAX, `more than ${REQUEST_METHODS_MAX} request methods in metrics`);
      timer = this.histogram.labels({ method });
      this.timers.set(method, timer);
    }
    timer.observe(durationMs / 1000);
  }

  /** Moves the counts recorded since the last call into the prom-client counter (its collect hook). */
  collect(): void {
    for (const [method, byCode] of this.codes) {
      for (const [code, n] of byCode) if (n > 0) this.counter.inc({ method, code }, n);
      byCode.clear();
    }
  }
}

export interface BrokerMetrics {
  /** Per-request count and latency (conveyor_broker_requests_total, conveyor_broker_request_duration_seconds). */
  requests: RequestMetrics;
  messagesIn: Counter<'topic'>;
  bytesIn: Counter<'topic'>;
  duplicates: Counter<'topic'>;
  messagesOut: Counter<'topic'>;
  bytesOut: Counter<'topic'>;
  pulls: Counter<'status'>;
  longPollWaiting: Gauge;
  longPollWokenEarly: Counter;
  registrations: Counter<'nameserver' | 'result'>;
  /** Sync sends by the replication wait's answer (OK, SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE). */
  syncReplication: Counter<'status'>;
}

export interface MetricsSources {
  store: StoreGauges;
  dedupEntries: () => number;
  topicCount: () => number;
  longPollWaiting: () => number;
  inFlightRequests: () => number;
  replication: ReplicationGauges;
}

export function createBrokerMetrics(registry: Registry, sources: MetricsSources): BrokerMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers, collect() { this.set(read()); } });
  };
  gauge('conveyor_broker_store_min_physical_offset_bytes', 'first physical offset still in the commit log', () => sources.store.minPhysicalOffset());
  gauge('conveyor_broker_store_max_physical_offset_bytes', 'one past the last byte of the commit log', () => sources.store.maxPhysicalOffset());
  gauge('conveyor_broker_store_flushed_physical_offset_bytes', 'commit-log bytes known durable (fsynced)', () => sources.store.flushedPhysicalOffset());
  gauge('conveyor_broker_dedup_window_entries', 'message ids remembered in memory for de-duplication', sources.dedupEntries);
  gauge('conveyor_broker_topics', 'topic configs on this broker', sources.topicCount);
  gauge('conveyor_broker_in_flight_requests', 'RPCs being served right now (held pulls included)', sources.inFlightRequests);
  const { replication } = sources;
  gauge('conveyor_replication_lag_bytes', 'master: commit-log bytes the worst connected slave has not flushed; slave: bytes behind its master', () => replication.lag().bytes);
  gauge('conveyor_replication_lag_ms', 'master: how long ago its log passed the worst slave\'s offset; slave: the same for itself', () => replication.lag().ms);
  gauge('conveyor_replication_connected_slaves', 'master: slaves with an open replication stream', replication.connectedSlaves);
  gauge('conveyor_replication_master_connected', 'slave: 1 while its replication stream to the master is open', replication.masterConnected);
  let rejectedSeen = 0;
  new Counter({
    name: 'conveyor_replication_sync_waiters_rejected_total',
    help: 'master: sync sends answered SLAVE_TIMEOUT at once because too many sends already waited',
    registers,
    collect() {
      const now = replication.waitersRejected();
      if (now > rejectedSeen) this.inc(now - rejectedSeen);
      rejectedSeen = now;
    },
  });
  let requestMetrics: RequestMetrics | undefined;
  const requestCounter = new Counter({
    name: 'conveyor_broker_requests_total',
    help: 'RPCs answered, by method and result code',
    labelNames: ['method', 'code'],
    registers,
    collect() {
      requestMetrics?.collect();
    },
  });
  const requestSeconds = new Histogram({
    name: 'conveyor_broker_request_duration_seconds',
    help: 'RPC latency by method (pulls include their long-poll hold)',
    labelNames: ['method'],
    buckets: [...REQUEST_SECONDS_BUCKETS],
    registers,
  });
  requestMetrics = new RequestMetrics(requestCounter, requestSeconds);
  return {
    requests: requestMetrics,
    messagesIn: new Counter({ name: 'conveyor_broker_messages_in_total', help: 'messages stored by sends (duplicates not counted)', labelNames: ['topic'], registers }),
    bytesIn: new Counter({ name: 'conveyor_broker_bytes_in_total', help: 'record bytes stored by sends', labelNames: ['topic'], registers }),
    duplicates: new Counter({ name: 'conveyor_broker_duplicates_total', help: 'sent messages answered with their original result (id seen within the window)', labelNames: ['topic'], registers }),
    messagesOut: new Counter({ name: 'conveyor_broker_messages_out_total', help: 'records returned by pulls', labelNames: ['topic'], registers }),
    bytesOut: new Counter({ name: 'conveyor_broker_bytes_out_total', help: 'record bytes returned by pulls', labelNames: ['topic'], registers }),
    pulls: new Counter({ name: 'conveyor_broker_pulls_total', help: 'pull answers by status (found, no_new_message, no_matched_message)', labelNames: ['status'], registers }),
    longPollWaiting: new Gauge({ name: 'conveyor_broker_long_poll_waiting', help: 'pulls held waiting for their queue to grow', registers, collect() { this.set(sources.longPollWaiting()); } }),
    longPollWokenEarly: new Counter({ name: 'conveyor_broker_long_poll_woken_total', help: 'held pulls answered because a message landed (not by timeout)', registers }),
    registrations: new Counter({ name: 'conveyor_broker_registrations_total', help: 'registration calls to nameservers by result (ok, failed)', labelNames: ['nameserver', 'result'], registers }),
    syncReplication: new Counter({ name: 'conveyor_replication_sync_sends_total', help: 'master, sync replication: sends by the wait\'s answer (OK, SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE)', labelNames: ['status'], registers }),
  };
}
