import type { IngestConfig } from '@renotify/config';
import { createDatabase, SecretBox, type Database } from '@renotify/db';
import { createGraphClient, type GraphClient } from '@renotify/messenger';
import { createIngestMetrics, type IngestMetrics, type Logger } from '@renotify/observability';
import { createQueues, createRedis, type Queues } from '@renotify/queue';
import type { Redis } from 'ioredis';

/** Everything the ingest's routes need; built once per process and closed on shutdown. */
export interface IngestDeps {
  config: IngestConfig;
  logger: Logger;
  db: Database;
  redis: Redis;
  queues: Queues;
  secrets: SecretBox;
  /** Graph API (or the sandbox) for opt-in requests and token reconciliation. */
  graph: GraphClient;
  /** Prometheus metrics of this process (GET /metrics). */
  metrics: IngestMetrics;
}

export function createIngestDeps(config: IngestConfig, logger: Logger): IngestDeps {
  const redis = createRedis(config.REDIS_URL, 'producer');
  return {
    config,
    logger,
    db: createDatabase(config.DATABASE_URL, { applicationName: 'renotify-ingest' }),
    redis,
    queues: createQueues(redis, config.QUEUE_PREFIX, (error, queue) => logger.warn({ err: error, queue }, 'queue connection error')),
    secrets: new SecretBox(config.ENCRYPTION_KEY, config.ENCRYPTION_KEYS_PREVIOUS),
    graph: createGraphClient({ baseUrl: config.GRAPH_API_BASE_URL, connections: 16 }),
    metrics: createIngestMetrics(),
  };
}

export async function closeIngestDeps(deps: IngestDeps): Promise<void> {
  await deps.queues.close();
  await deps.graph.close();
  await deps.redis.quit().catch(() => deps.redis.disconnect());
  await deps.db.close();
}
