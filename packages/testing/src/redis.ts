import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { dockerLikelyAvailable } from './docker.js';

export interface TestRedis {
  url: string;
  /** A queue/key prefix no other test file uses. */
  prefix: string;
  /** Deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

let redisUrlPromise: Promise<string> | undefined;

function redisServerUrl(): Promise<string> {
  redisUrlPromise ??= (async () => {
    if (process.env.REDIS_URL) return process.env.REDIS_URL;
    if (!dockerLikelyAvailable()) {
      throw new Error('Set REDIS_URL (e.g. redis://127.0.0.1:6379) or make a Docker engine reachable for testcontainers.');
    }
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    return container.getConnectionUrl();
  })();
  return redisUrlPromise;
}

export async function createTestRedis(label = 'test'): Promise<TestRedis> {
  const url = await redisServerUrl();
  const prefix = `test-${label}-${randomUUID().slice(0, 8)}`;
  return {
    url,
    prefix,
    async cleanup() {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length) await client.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  };
}
