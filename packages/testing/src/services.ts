import { createTestDatabase, type TestDatabase } from './postgres.js';
import { createTestRedis, type TestRedis } from './redis.js';

export type Env = Record<string, string | undefined>;

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
