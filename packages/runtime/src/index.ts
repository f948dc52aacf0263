import type { CommonConfig } from '@renotify/config';
import { createDatabase, SecretBox, type Database } from '@renotify/db';
import { createGraphClient, type GraphClient } from '@renotify/messenger';
import type { Logger } from '@renotify/observability';
import { createQueues, createRedis, type Queues } from '@renotify/queue';
import type { Redis } from 'ioredis';

/**
 * What every Renotify process that talks to Postgres, Redis and the Graph API holds: built once per process,
 * closed once on shutdown. Ingest and worker add their own config and metrics around it (apps/<app>/src/deps.ts).
 */
export interface ServiceDeps {
  db: Database;
  /** The process's Redis connection; queues share it (BullMQ workers duplicate it for blocking calls). */
  redis: Redis;
  queues: Queues;
  secrets: SecretBox;
  /** Keep-alive pool to the Graph API (or the sandbox). */
  graph: GraphClient;
}

export interface ServiceDepsOptions {
  /** Postgres application_name, e.g. "renotify-worker" (shows in pg_stat_activity). */
  applicationName: string;
  /**
   * "worker": commands wait for Redis without limit (BullMQ workers need that); "producer": commands fail fast,
   * so a request can answer 503 instead of hanging.
   */
  redisRole: 'producer' | 'worker';
  maxDbConnections?: number;
  graphConnections: number;
}

export function createServiceDeps(config: CommonConfig, logger: Logger, options: ServiceDepsOptions): ServiceDeps {
  const redis = createRedis(config.REDIS_URL, options.redisRole);
  return {
    db: createDatabase(config.DATABASE_URL, {
      applicationName: options.applicationName,
      ...(options.maxDbConnections !== undefined && { maxConnections: options.maxDbConnections }),
    }),
    redis,
    queues: createQueues(redis, config.QUEUE_PREFIX, (error, queue) => logger.warn({ err: error, queue }, 'queue connection error')),
    secrets: new SecretBox(config.ENCRYPTION_KEY, config.ENCRYPTION_KEYS_PREVIOUS),
    graph: createGraphClient({ baseUrl: config.GRAPH_API_BASE_URL, connections: options.graphConnections }),
  };
}

/** Closes in dependency order: queues before their connection, the database last (in-flight jobs finish first). */
export async function closeServiceDeps(deps: ServiceDeps): Promise<void> {
  await deps.queues.close();
  await deps.graph.close();
  await deps.redis.quit().catch(() => deps.redis.disconnect());
  await deps.db.close();
}
