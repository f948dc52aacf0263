import type { WorkerConfig } from '@renotify/config';
import { createDatabase, SecretBox, type Database } from '@renotify/db';
import { createGraphClient, type GraphClient } from '@renotify/messenger';
import { createWorkerMetrics, type Logger, type WorkerMetrics } from '@renotify/observability';
import { createQueues, createRedis, type Queues } from '@renotify/queue';
import type { Redis } from 'ioredis';
import { readBacklogSnapshot } from './metrics/backlog.js';

/** Shared by every processor of one worker process; built once, closed on shutdown. */
export interface WorkerDeps {
  config: WorkerConfig;
  logger: Logger;
  db: Database;
  /** Blocking connection(s) for BullMQ workers are duplicated from this one. */
  redis: Redis;
  /** For processors that enqueue follow-up jobs (fan-out → deliveries). */
  queues: Queues;
  secrets: SecretBox;
  /** Keep-alive pool to the Graph API (or the sandbox). */
  graph: GraphClient;
  /** Prometheus metrics of this process (GET /metrics); queue gauges read the shared backlog sample. */
  metrics: WorkerMetrics;
}

export function createWorkerDeps(config: WorkerConfig, logger: Logger): WorkerDeps {
  const redis = createRedis(config.REDIS_URL, 'worker');
  return {
    config,
    logger,
    db: createDatabase(config.DATABASE_URL, { applicationName: 'renotify-worker', maxConnections: 20 }),
    redis,
    queues: createQueues(redis, config.QUEUE_PREFIX, (error, queue) => logger.warn({ err: error, queue }, 'queue connection error')),
    secrets: new SecretBox(config.ENCRYPTION_KEY, config.ENCRYPTION_KEYS_PREVIOUS),
    graph: createGraphClient({ baseUrl: config.GRAPH_API_BASE_URL, connections: config.SEND_CONCURRENCY }),
    metrics: createWorkerMetrics({ readBacklog: () => readBacklogSnapshot(redis, config.QUEUE_PREFIX) }),
  };
}

export async function closeWorkerDeps(deps: WorkerDeps): Promise<void> {
  await deps.queues.close();
  await deps.graph.close();
  await deps.redis.quit().catch(() => deps.redis.disconnect());
  await deps.db.close();
}
