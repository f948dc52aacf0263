import type { WorkerConfig } from '@renotify/config';
import { createWorkerMetrics, type Logger, type WorkerMetrics } from '@renotify/observability';
import { closeServiceDeps, createServiceDeps, type ServiceDeps } from '@renotify/runtime';
import { readBacklogSnapshot } from './metrics/backlog.js';

/** Shared by every processor of one worker process; built once, closed on shutdown. */
export interface WorkerDeps extends ServiceDeps {
  config: WorkerConfig;
  logger: Logger;
  /** Prometheus metrics of this process (GET /metrics); queue gauges read the shared backlog sample. */
  metrics: WorkerMetrics;
}

export function createWorkerDeps(config: WorkerConfig, logger: Logger): WorkerDeps {
  // Worker Redis: commands wait for a reconnect (BullMQ's blocking connections are duplicated from it).
  const service = createServiceDeps(config, logger, {
    applicationName: 'renotify-worker',
    redisRole: 'worker',
    maxDbConnections: 20,
    graphConnections: config.SEND_CONCURRENCY,
  });
  return {
    ...service,
    config,
    logger,
    metrics: createWorkerMetrics({ readBacklog: () => readBacklogSnapshot(service.redis, config.QUEUE_PREFIX) }),
  };
}

export const closeWorkerDeps: (deps: WorkerDeps) => Promise<void> = closeServiceDeps;
