import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '@renotify/domain';

/**
 * Producers (ingest, SDK) give up on a command after two reconnect attempts (~0.6 s) so callers get a 503
 * instead of a hung request; workers wait forever (BullMQ requires maxRetriesPerRequest: null).
 */
export function createRedis(url: string, role: 'producer' | 'worker', extra: RedisOptions = {}): Redis {
  const roleOptions: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 2, connectTimeout: 5_000 };
  const redis = new Redis(url, {
    ...roleOptions,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...extra,
  });
  // ioredis emits 'error' on every failed reconnect; unhandled it would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

export async function isRedisReachable(redis: Redis, timeoutMs = 2_000): Promise<boolean> {
  try {
    return (await withTimeout(redis.ping(), timeoutMs, 'redis ping')) === 'PONG';
  } catch {
    return false;
  }
}
