import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { WorkerMetrics } from '@renotify/observability';
import type { ExtraRoute } from '../http.js';
import { backlogBody, type BacklogSampler } from './backlog.js';

/** The worker listener's paths. Probes, Prometheus annotations and the KEDA trigger are tested against these. */
export const WorkerRoute = {
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
  backlog: '/metrics/backlog',
} as const;

/** A scrape waits at most this long for Redis; Prometheus and KEDA time out around 10 s and should get a 503 first. */
export const SCRAPE_REDIS_TIMEOUT_MS = 1_500;
const RETRY_AFTER_SECONDS = '5';

const pathOf = (request: IncomingMessage) => request.url?.split('?')[0];

class RedisUnavailable extends Error {}

/**
 * Runs `read` unless Redis is known to be down, and gives up after SCRAPE_REDIS_TIMEOUT_MS: the worker's client
 * queues commands while it reconnects (BullMQ needs maxRetriesPerRequest: null), so a read would otherwise wait
 * for as long as Redis is away.
 */
async function withRedis<T>(redis: Redis, read: () => Promise<T>): Promise<T> {
  if (redis.status !== 'ready') throw new RedisUnavailable(`Redis connection is ${redis.status}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisUnavailable(`Redis did not answer within ${SCRAPE_REDIS_TIMEOUT_MS} ms`)), SCRAPE_REDIS_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function unavailable(response: ServerResponse, code: string, error: unknown) {
  const message = error instanceof RedisUnavailable ? error.message : 'could not be collected';
  response
    .writeHead(503, { 'content-type': 'application/json', 'retry-after': RETRY_AFTER_SECONDS })
    .end(JSON.stringify({ error: { code, message, retryable: true } }));
}

/** GET /metrics (Prometheus text) and GET /metrics/backlog (JSON for KEDA's metrics-api scaler). */
export function metricsRoutes(metrics: WorkerMetrics, sampler: BacklogSampler, redis: Redis): ExtraRoute[] {
  return [
    async (request: IncomingMessage, response: ServerResponse) => {
      if (request.method !== 'GET' || pathOf(request) !== WorkerRoute.metrics) return false;
      try {
        // The queue gauges read the shared backlog sample from Redis.
        const body = await withRedis(redis, () => metrics.registry.metrics());
        response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
      } catch (error) {
        unavailable(response, 'metrics_unavailable', error);
      }
      return true;
    },
    async (request: IncomingMessage, response: ServerResponse) => {
      if (request.method !== 'GET' || pathOf(request) !== WorkerRoute.backlog) return false;
      try {
        const body = backlogBody(await withRedis(redis, () => sampler.read()));
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      } catch (error) {
        // KEDA counts failures and falls back to its configured replicas; a made-up 0 would scale in.
        unavailable(response, 'backlog_unavailable', error);
      }
      return true;
    },
  ];
}
