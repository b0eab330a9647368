// The wire, as generated from proto/*.proto. Import wire types and service definitions from here.
// The first import must stay first: it switches int64 decoding to numbers before gen/ loads.
import './int64-as-number.js';

export { conveyor } from './gen/conveyor.js';
export { BrokerService, NameServerService, ReplicationService } from './gen/services.js';
export type { BrokerHandlers, NameServerHandlers, ReplicationHandlers } from './gen/services.js';
