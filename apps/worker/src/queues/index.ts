import { deliveriesModule } from './deliveries/dispatch.js';
import { eventsModule } from './events/events.js';
import { webhooksProcessor } from './webhooks/module.js';
import { campaignsModule } from './campaigns/module.js';
import { createOutboundWebhooksModule } from './outbound-webhooks/module.js';
import { retentionModule } from './retention/module.js';

import type { ProcessorModule } from './define.js';

export type { JobProcessor, ProcessorModule } from './define.js';

/** Every queue this worker consumes; each feature adds its module here. */
export const processorModules: ProcessorModule[] = [
  eventsModule(),
  deliveriesModule(),
  webhooksProcessor,
  campaignsModule(),
  createOutboundWebhooksModule(),
  retentionModule(),
];
