import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personTimeZone } from '@renotify/domain';
import { createTestDatabase, type TestDatabase } from '@renotify/testing';
import { recurringTokenZones } from './campaign-runs.js';
import { createDatabase, type Database } from './client.js';

/**
 * The campaign fan-out picks a person's zone in SQL (EFFECTIVE_ZONE_SQL); the rules pick it with
 * personTimeZone. Both must give the same zone for every combination of token, subscriber and Page zones
 * (docs/time-zones.md), including the empty strings the rules skip.
 */
describe('EFFECTIVE_ZONE_SQL = personTimeZone', () => {
  let database: TestDatabase;
  let db: Database;
  const candidates = ['Asia/Tokyo', '', null] as const;
  const pageZones = ['Europe/Paris', 'UTC'] as const;

  beforeAll(async () => {
    database = await createTestDatabase('dbzones');
    db = createDatabase(database.url);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('lists, per combination, the zone personTimeZone picks', async () => {
    let n = 0;
    for (const pageZone of pageZones) {
      for (const tokenZone of candidates) {
        for (const subscriberZone of [...candidates, 'America/Lima']) {
          const pageId = `zones-${n++}`;
          await db.pool.query(`INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", timezone, "updatedAt") VALUES ($1, 'p', 'x', 'x', $2, now())`, [pageId, pageZone]);
          const subscriber = await db.pool.query<{ id: string }>(`INSERT INTO "Subscriber" ("pageId", psid, timezone, "updatedAt") VALUES ($1, 'person', $2, now()) RETURNING id`, [
            pageId,
            subscriberZone,
          ]);
          await db.pool.query(
            `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", frequency, timezone, "statusAt", "updatedAt")
             VALUES ($1, $2, 'RECURRING', 'deals', $3, 'fp', 'DAILY', $4, now(), now())`,
            [pageId, subscriber.rows[0]!.id, `token-${pageId}`, tokenZone],
          );
          const listed = await recurringTokenZones(db, pageId, 'deals');
          expect(listed, `token ${String(tokenZone)}, subscriber ${String(subscriberZone)}, page ${pageZone}`).toEqual([
            personTimeZone({ token: tokenZone, subscriber: subscriberZone, page: pageZone }),
          ]);
        }
      }
    }
    expect(n).toBe(24);
  });
});
