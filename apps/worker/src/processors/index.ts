import { deliveriesModule } from '../pipeline/dispatch.js';
import { eventsModule } from '../pipeline/events.js';
import { webhooksProcessor } from './webhooks.js';
import { campaignsModule } from '../campaigns/module.js';
import { createOutboundWebhooksModule } from '../queues/outbound-webhooks/module.js';
import { retentionModule } from '../queues/retention/module.js';

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
