import type { Env } from '@renotify/config';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@renotify/testing';

export interface TestServices {
  database: TestDatabase;
  redis: TestRedis;
  /** Env for any Renotify process bound to these services, on ephemeral ports. */
  env: Env;
  cleanup(): Promise<void>;
}

/** A private Postgres database and Redis prefix for one test file, and the env that points a process at them. */
export async function createTestServices(label: string, extraEnv: Env = {}): Promise<TestServices> {
  const [database, redis] = await Promise.all([createTestDatabase(label), createTestRedis(label)]);
  return {
    database,
    redis,
    env: {
      LOG_LEVEL: 'silent',
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: redis.prefix,
      INGEST_PORT: '0',
      WORKER_PORT: '0',
      SANDBOX_PORT: '0',
      ...extraEnv,
    },
    async cleanup() {
      await Promise.all([database.drop(), redis.cleanup()]);
    },
  };
}
