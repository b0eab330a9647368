// The NameServer gRPC service: wire messages in, route-table calls, wire messages out. Every
// handler goes through unaryHandler, so a ConveyorError reaches the client with its code.
import { dataVersionFromWire } from '../common/data-version.js';
import { ConveyorError, ErrorCode, errorCodeName, isConveyorError, unreachable } from '../common/errors.js';
import { unaryHandler } from '../common/grpc.js';
import type { Logger } from '../common/logging.js';
import { conveyor, type NameServerHandlers } from '../proto/index.js';
import type { NameServerMetrics } from './metrics.js';
import type { BrokerRegistration, RouteTable, TopicLayout } from './route-table.js';

export interface NameServerServiceOptions {
  table: RouteTable;
  log: Logger;
  metrics?: NameServerMetrics;
}

type Method = 'registerBroker' | 'unregisterBroker' | 'getRoute' | 'getClusterInfo' | 'getTopicList';

/**
 * A decoded RegisterBrokerRequest as the route table's input (absent fields read as proto3
 * defaults). A light heartbeat (full_topic_table false) must carry no topics: a sender that set
 * topics but forgot the flag would otherwise see its topics silently ignored.
 */
export function registrationFromWire(request: conveyor.RegisterBrokerRequest): BrokerRegistration {
  const wireTopics = request.topics ?? [];
  if (request.fullTopicTable !== true && wireTopics.length > 0) {
    throw new ConveyorError(
      ErrorCode.INVALID_ARGUMENT,
      `broker '${request.brokerName}' sent ${wireTopics.length} topics in a light heartbeat; set full_topic_table when sending the topic table`,
      { brokerName: request.brokerName, topics: wireTopics.length },
    );
  }
  const topics: TopicLayout[] = wireTopics.map((t) => ({
    topicName: t.topicName ?? '',
    readQueueCount: t.readQueueCount ?? 0,
    writeQueueCount: t.writeQueueCount ?? 0,
    perm: t.perm ?? 0,
    ordered: t.ordered ?? false,
  }));
  return {
    clusterName: request.clusterName,
    brokerName: request.brokerName,
    brokerId: request.brokerId,
    brokerAddress: request.brokerAddress,
    haAddress: request.haAddress,
    httpAddress: request.httpAddress,
    topics: request.fullTopicTable === true ? topics : null,
    dataVersion: dataVersionFromWire(request.dataVersion),
  };
}

export function createNameServerHandlers(options: NameServerServiceOptions): NameServerHandlers {
  const { table, metrics } = options;
  const log = options.log.child({ component: 'nameserver-service' });

  /** Counts every answer by method and code; rejected requests are logged, then rethrown unchanged. */
  function counted<Req, Res>(method: Method, fn: (request: Req) => Res): (request: Req) => Res {
    return (request) => {
      try {
        const result = fn(request);
        metrics?.requests.inc({ method, code: 'OK' });
        return result;
      } catch (err) {
        const code = isConveyorError(err) ? err.code : ErrorCode.INTERNAL;
        metrics?.requests.inc({ method, code: errorCodeName(code) });
        // Unknown topics are a per-client, per-lookup event: debug. Bad registrations repeat only
        // once per heartbeat interval and mean a misconfigured broker: warn.
        if (method === 'getRoute' || method === 'getTopicList' || method === 'getClusterInfo') log.debug({ err, method }, 'request rejected');
        else log.warn({ err, method }, 'request rejected');
        throw err;
      }
    };
  }

  return {
    registerBroker: unaryHandler(
      counted('registerBroker', (request: conveyor.RegisterBrokerRequest): conveyor.IRegisterBrokerResponse => {
        const registration = registrationFromWire(request);
        const result = table.register(registration);
        const fields = { clusterName: registration.clusterName, brokerName: registration.brokerName, brokerId: registration.brokerId, brokerAddress: registration.brokerAddress };
        const topicCount = registration.topics?.length ?? 0;
        switch (result.change) {
          case 'new':
            log.info({ ...fields, topics: topicCount, dataVersion: registration.dataVersion }, 'broker registered');
            break;
          case 'topics-changed':
            log.info({ ...fields, topics: topicCount, dataVersion: registration.dataVersion }, 'broker topics changed');
            break;
          case 'heartbeat':
            log.debug(fields, 'broker heartbeat');
            break;
          case 'topics-wanted':
            // Once per nameserver restart or broker expiry: the broker sends its table at once.
            log.info({ ...fields, dataVersion: registration.dataVersion }, 'broker topic table wanted');
            break;
          default:
            unreachable(result.change);
        }
        metrics?.registrations.inc({ change: result.change, table: registration.topics === null ? 'light' : 'full' });
        if (result.replacedAddress !== undefined) log.warn({ ...fields, replacedAddress: result.replacedAddress }, 'broker id taken over by a new address');
        return { masterAddress: result.masterAddress, masterHaAddress: result.masterHaAddress, topicTableWanted: result.change === 'topics-wanted' };
      }),
    ),

    unregisterBroker: unaryHandler(
      counted('unregisterBroker', (request: conveyor.UnregisterBrokerRequest): conveyor.IUnregisterBrokerResponse => {
        const who = { clusterName: request.clusterName, brokerName: request.brokerName, brokerId: request.brokerId, brokerAddress: request.brokerAddress };
        const removed = table.unregister(who);
        log.info({ ...who, removed }, 'broker unregistered');
        return {};
      }),
    ),

    getRoute: unaryHandler(
      counted('getRoute', (request: conveyor.GetRouteRequest): conveyor.ITopicRoute => {
        const route = table.route(request.topic);
        return {
          topic: route.topic,
          queues: route.queues,
          brokers: route.brokers.map((b) => ({ clusterName: b.clusterName, brokerName: b.brokerName, addresses: b.addresses })),
        };
      }),
    ),

    getClusterInfo: unaryHandler(
      counted('getClusterInfo', (): conveyor.IClusterInfo => ({
        brokers: table.liveBrokers().map((b) => ({
          clusterName: b.clusterName,
          brokerName: b.brokerName,
          brokerId: b.brokerId,
          brokerAddress: b.brokerAddress,
          haAddress: b.haAddress,
          httpAddress: b.httpAddress,
          lastUpdateMs: b.lastUpdateMs,
          dataVersion: b.dataVersion,
        })),
      })),
    ),

    getTopicList: unaryHandler(counted('getTopicList', (): conveyor.ITopicList => ({ topics: table.topicList() }))),
  };
}
