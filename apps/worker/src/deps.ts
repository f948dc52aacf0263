import type { WorkerConfig } from '@renotify/config';
import { createDatabase, SecretBox, type Database } from '@renotify/db';
import type { Logger } from '@renotify/observability';
import { createQueues, createRedis, type Queues } from '@renotify/queue';
import type { Redis } from 'ioredis';

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
}

export function createWorkerDeps(config: WorkerConfig, logger: Logger): WorkerDeps {
  const redis = createRedis(config.REDIS_URL, 'worker');
  return {
    config,
    logger,
    db: createDatabase(config.DATABASE_URL, { applicationName: 'renotify-worker', maxConnections: 20 }),
    redis,
    queues: createQueues(redis, config.QUEUE_PREFIX),
    secrets: new SecretBox(config.ENCRYPTION_KEY, config.ENCRYPTION_KEYS_PREVIOUS),
  };
}

export async function closeWorkerDeps(deps: WorkerDeps): Promise<void> {
  await deps.queues.close();
  await deps.redis.quit().catch(() => deps.redis.disconnect());
  await deps.db.close();
}
