// The services behind the BrokerService RPCs, as the handlers (handlers.ts, stream-handlers.ts) take them.
import type { AdminService } from './admin.js';
import type { ConsumerService } from './consumers.js';
import type { OffsetService } from './offsets.js';
import type { PullService } from './pull.js';
import type { SendService } from './send.js';

export interface BrokerServices {
  send: SendService;
  pull: PullService;
  offsets: OffsetService;
  consumers: ConsumerService;
  admin: AdminService;
}
