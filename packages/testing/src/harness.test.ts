import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from './index.js';

describe('test harness', () => {
  let first: TestDatabase;
  let second: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase('harness'), createTestDatabase('harness')]);
    redis = await createTestRedis('harness');
  });
  afterAll(async () => {
    await Promise.all([first?.drop(), second?.drop(), redis?.cleanup()]);
  });

  it('gives each caller its own migrated database', async () => {
    expect(first.name).not.toBe(second.name);
    const client = new pg.Client({ connectionString: first.url });
    await client.connect();
    try {
      const tables = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      expect(tables.rows.map((row) => row.tablename)).toEqual(expect.arrayContaining(['Page', 'OptIn', 'Delivery', 'Event']));
      await client.query(`INSERT INTO "DeadLetter" (kind, reason, payload) VALUES ('probe', 'isolation', '{}')`);
    } finally {
      await client.end();
    }
    const other = new pg.Client({ connectionString: second.url });
    await other.connect();
    try {
      const rows = await other.query('SELECT count(*)::int AS n FROM "DeadLetter"');
      expect(rows.rows[0].n).toBe(0);
    } finally {
      await other.end();
    }
  });

  it('gives a Redis prefix whose keys cleanup removes', async () => {
    const client = new Redis(redis.url);
    try {
      await client.set(`${redis.prefix}:probe`, '1');
      await client.set('unrelated-harness-probe', '1');
      await redis.cleanup();
      expect(await client.exists(`${redis.prefix}:probe`)).toBe(0);
      expect(await client.exists('unrelated-harness-probe')).toBe(1);
    } finally {
      await client.del('unrelated-harness-probe');
      client.disconnect();
    }
  });
});
