import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@renotify/testing';
import { createDatabase, type Database } from '../client.js';

/**
 * A migrated scratch database for one test file, with one Page row and a pool of ONE connection: a test can read
 * its own transaction's or backend's statistics on the connection that ran the statements it measures. Registers
 * its hooks in the calling `describe`; read `db` inside tests.
 */
export function usePageDatabase(label: string, pageId: string): { readonly db: Database } {
  let database: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    database = await createTestDatabase(label);
    db = createDatabase(database.url, { maxConnections: 1 });
    await db.pool.query(`INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt") VALUES ($1, 'p', 'x', 'x', now())`, [pageId]);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });
  return {
    get db() {
      return db;
    },
  };
}
