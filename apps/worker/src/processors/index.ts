import type { Job } from 'bullmq';
import type { QueueName } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import { deliveriesModule } from '../pipeline/dispatch.js';
import { eventsModule } from '../pipeline/events.js';
import { webhooksProcessor } from './webhooks.js';
import { campaignsModule } from '../campaigns/module.js';

/** `token` is the job's lock token, needed to move the running job (e.g. `job.moveToDelayed`). */
export type JobProcessor = (job: Job, token?: string) => Promise<unknown>;

export interface ProcessorModule {
  queue: QueueName;
  /** Jobs this processor runs at once in one process. */
  concurrency?: (deps: WorkerDeps) => number;
  create(deps: WorkerDeps): JobProcessor | Promise<JobProcessor>;
  /** Called first on shutdown, before the BullMQ worker drains: stop starting new work inside running jobs. */
  stop?(): void;
  /** Released on shutdown after the BullMQ worker has drained. */
  close?(): Promise<void>;
}

/** Every queue this worker consumes; each feature adds its module here. */
export const processorModules: ProcessorModule[] = [
  eventsModule(),
  deliveriesModule(),
  webhooksProcessor,
  campaignsModule(),
];
