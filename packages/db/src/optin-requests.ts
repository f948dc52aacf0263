import type { Database } from './client.js';
import { withTransaction } from './tx.js';

/** Meta: at most one opt-in request with the same title per person per week (messenger-platform.md §2.1). */
export const SAME_TITLE_COOLDOWN_MS = 7 * 24 * 3600_000;

export interface OptInRequestDraft {
  pageId: string;
  subscriberId: string;
  kind: 'ONE_TIME' | 'RECURRING';
  topic: string;
  title: string;
}

export type Reservation = { reserved: true; id: string; sentAt: Date } | { reserved: false; lastSentAt: Date };

/**
 * Checks the 7-day same-title rule and records the request in one step, under a lock on (person, title), so two
 * concurrent requests cannot both pass. The row is a reservation until Meta accepts the send (then `confirm`),
 * and is released when Meta refuses it: a request Meta never delivered must not block the next one for a week.
 */
export function reserveOptInRequest(db: Database, draft: OptInRequestDraft, now: Date): Promise<Reservation> {
  return withTransaction(db, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`optin-request:${draft.subscriberId}:${draft.title}`]);
    const recent = await client.query<{ sentAt: Date }>(
      `SELECT "sentAt" FROM "OptInRequest" WHERE "subscriberId" = $1 AND title = $2 AND "sentAt" > $3 ORDER BY "sentAt" DESC LIMIT 1`,
      [draft.subscriberId, draft.title, new Date(now.getTime() - SAME_TITLE_COOLDOWN_MS)],
    );
    if (recent.rows[0]) return { reserved: false, lastSentAt: recent.rows[0].sentAt };
    const inserted = await client.query<{ id: string; sentAt: Date }>(
      `INSERT INTO "OptInRequest" ("pageId", "subscriberId", kind, topic, title, "sentAt") VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, "sentAt"`,
      [draft.pageId, draft.subscriberId, draft.kind, draft.topic, draft.title, now],
    );
    const row = inserted.rows[0]!;
    return { reserved: true, id: row.id, sentAt: row.sentAt };
  });
}

export async function confirmOptInRequest(db: Database, id: string, messageId: string): Promise<void> {
  await db.pool.query(`UPDATE "OptInRequest" SET "messageId" = $2 WHERE id = $1`, [id, messageId]);
}

export async function releaseOptInRequest(db: Database, id: string): Promise<void> {
  await db.pool.query(`DELETE FROM "OptInRequest" WHERE id = $1`, [id]);
}
