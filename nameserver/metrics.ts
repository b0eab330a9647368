// Prometheus metrics of a nameserver. Gauges are read from the route table at scrape time, so
// they are never stale and cost nothing between scrapes.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RouteTable } from './route-table.js';

export interface NameServerMetrics {
  /** One per answered request; `code` is the ErrorCode name (`OK` on success). */
  requests: Counter<'method' | 'code'>;
  /** Accepted registrations by what they changed (route-table RegistrationChange) and table: full or light. */
  registrations: Counter<'change' | 'table'>;
  /** Brokers dropped by the expiry scan because they stopped heartbeating. */
  brokersExpired: Counter;
}

export function createNameServerMetrics(registry: Registry, table: RouteTable): NameServerMetrics {
  new Gauge({
    name: 'conveyor_nameserver_brokers',
    help: 'Live brokers (masters and slaves) registered with this nameserver',
    registers: [registry],
    collect() {
      this.set(table.stats().brokers);
    },
  });
  new Gauge({
    name: 'conveyor_nameserver_broker_groups',
    help: 'Broker groups with at least one live broker',
    registers: [registry],
    collect() {
      this.set(table.stats().brokerGroups);
    },
  });
  new Gauge({
    name: 'conveyor_nameserver_topics',
    help: 'Topics served by at least one live broker group',
    registers: [registry],
    collect() {
      this.set(table.stats().topics);
    },
  });
  return {
    requests: new Counter({
      name: 'conveyor_nameserver_requests_total',
      help: 'Nameserver requests answered, by method and result code',
      labelNames: ['method', 'code'] as const,
      registers: [registry],
    }),
    registrations: new Counter({
      name: 'conveyor_nameserver_registrations_total',
      help: 'Accepted broker registrations by change (new, topics-changed, heartbeat, topics-wanted) and table (full, light)',
      labelNames: ['change', 'table'] as const,
      registers: [registry],
    }),
    brokersExpired: new Counter({
      name: 'conveyor_nameserver_brokers_expired_total',
      help: 'Brokers dropped because they were silent past the expiry time',
      registers: [registry],
    }),
  };
}
