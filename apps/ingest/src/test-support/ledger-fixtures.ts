import { randomUUID } from 'node:crypto';
import type { Database } from '@renotify/db';

type Pool = Database['pool'];

/** Rows the events and dead-letter tests need, written with plain SQL (the APIs that create them belong to other modules). */

export async function insertPage(pool: Pool, id: string, { deleted = false } = {}): Promise<void> {
  await pool.query(
    `INSERT INTO "Page" (id, name, "accessTokenCipher", "appSecretCipher", "updatedAt", "deletedAt")
     VALUES ($1, $2, 'not-a-real-cipher', 'not-a-real-cipher', now(), CASE WHEN $3::boolean THEN now() END)`,
    [id, `Page ${id}`, deleted],
  );
}

/** One subscriber and one ACTIVE one-time opt-in per entry; returns the opt-in ids in order. */
export async function insertOptIns(pool: Pool, pageId: string, count: number, topic = 'weekly_deals'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const subscriber = await pool.query<{ id: string }>(
      `INSERT INTO "Subscriber" ("pageId", psid, "updatedAt") VALUES ($1, $2, now()) RETURNING id`,
      [pageId, `psid-${randomUUID()}`],
    );
    const optIn = await pool.query<{ id: string }>(
      `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, token, "tokenFingerprint", "statusAt", "updatedAt")
       VALUES ($1, $2, 'ONE_TIME', $3, $4, 'fp', now(), now()) RETURNING id`,
      [pageId, subscriber.rows[0]?.id, topic, `secret-token-${randomUUID()}`],
    );
    ids.push(optIn.rows[0]?.id as string);
  }
  return ids;
}

export interface DeliveryFixture {
  sourceType?: 'EVENT' | 'CAMPAIGN_RUN';
  sourceId: string;
  optInId: string;
  pageId: string;
  batchNo: number;
  status: 'PENDING' | 'SENDING' | 'SENT' | 'FAILED' | 'SKIPPED' | 'DEAD';
  skipReason?: string | null;
  attempts?: number;
  lastErrorCode?: number | null;
  lastError?: string | null;
}

export async function insertDeliveries(pool: Pool, rows: DeliveryFixture[]): Promise<string[]> {
  const ids: string[] = [];
  for (const row of rows) {
    const inserted = await pool.query<{ id: string }>(
      `INSERT INTO "Delivery" ("sourceType", "sourceId", "optInId", "pageId", "batchNo", status, "skipReason", attempts,
                               "lastErrorCode", "lastError", "finishedAt")
       VALUES ($1::"SourceType", $2, $3, $4, $5, $6::"DeliveryStatus", $7, $8, $9, $10,
               CASE WHEN $6 IN ('SENT', 'FAILED', 'SKIPPED', 'DEAD') THEN now() AT TIME ZONE 'UTC' END)
       RETURNING id`,
      [
        row.sourceType ?? 'EVENT',
        row.sourceId,
        row.optInId,
        row.pageId,
        row.batchNo,
        row.status,
        row.skipReason ?? null,
        row.attempts ?? 0,
        row.lastErrorCode ?? null,
        row.lastError ?? null,
      ],
    );
    ids.push(inserted.rows[0]?.id as string);
  }
  return ids;
}
