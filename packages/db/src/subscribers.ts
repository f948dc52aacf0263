import type { Database } from './client.js';
import type { Queryable } from './tx.js';

export interface SubscriberWindow {
  id: string;
  /** When the person last messaged the Page: Meta's 24-hour standard window runs from here. */
  lastUserMessageAt: Date | null;
}

/** The subscriber known on `pageId` by `psid`, with what the standard-window check needs; null when unknown. */
export function findSubscriberWindow(db: Database, pageId: string, psid: string): Promise<SubscriberWindow | null> {
  return db.prisma.subscriber.findUnique({ where: { pageId_psid: { pageId, psid } }, select: { id: true, lastUserMessageAt: true } });
}

// ---------------------------------------------------------------------------------------------------------
// Subscribers

/** The subscriber for (pageId, psid), created when new; `messagedAt` opens the 24h window (never moves back). */
export async function upsertSubscriberByPsid(client: Queryable, pageId: string, psid: string, messagedAt?: Date): Promise<string> {
  const result = await client.query<{ id: string }>(
    `INSERT INTO "Subscriber" ("pageId", psid, "lastUserMessageAt", "updatedAt") VALUES ($1, $2, $3, now())
     ON CONFLICT ("pageId", psid) DO UPDATE
       SET "lastUserMessageAt" = GREATEST("Subscriber"."lastUserMessageAt", EXCLUDED."lastUserMessageAt"),
           "updatedAt" = CASE WHEN EXCLUDED."lastUserMessageAt" IS NULL THEN "Subscriber"."updatedAt" ELSE now() END
     RETURNING id`,
    [pageId, psid, messagedAt ?? null],
  );
  return result.rows[0]!.id;
}

/** A checkbox-plugin opt-in: the person is known by user_ref only until they reply. The plugin opens the 24h window. */
export async function upsertSubscriberByUserRef(client: Queryable, pageId: string, userRef: string, at: Date): Promise<string> {
  const result = await client.query<{ id: string }>(
    `INSERT INTO "Subscriber" ("pageId", "userRef", "lastUserMessageAt", "updatedAt") VALUES ($1, $2, $3, now())
     ON CONFLICT ("pageId", "userRef") DO UPDATE
       SET "lastUserMessageAt" = GREATEST("Subscriber"."lastUserMessageAt", EXCLUDED."lastUserMessageAt"), "updatedAt" = now()
     RETURNING id`,
    [pageId, userRef, at],
  );
  return result.rows[0]!.id;
}

interface SubscriberRow {
  id: string;
  psid: string | null;
  userRef: string | null;
  lastUserMessageAt: Date | null;
}

export type LinkOutcome = 'linked' | 'merged' | 'already_linked' | 'ref_recorded' | 'conflict';

/**
 * Joins a checkbox user_ref to the PSID Meta revealed when the person replied. If both were already known as
 * separate subscribers, the user_ref row is merged into the PSID row (its opt-ins and requests move over).
 */
export async function linkUserRefToPsid(client: Queryable, pageId: string, userRef: string, psid: string): Promise<LinkOutcome> {
  const select = `SELECT id, psid, "userRef", "lastUserMessageAt" FROM "Subscriber" WHERE "pageId" = $1 AND`;
  const byRef = (await client.query<SubscriberRow>(`${select} "userRef" = $2 FOR UPDATE`, [pageId, userRef])).rows[0];
  const byPsid = (await client.query<SubscriberRow>(`${select} psid = $2 FOR UPDATE`, [pageId, psid])).rows[0];
  if (byRef?.psid === psid) return 'already_linked';
  if (byRef && byRef.psid !== null) return 'conflict';
  if (!byRef) {
    // The reply overtook the opt-in webhook: remember the user_ref on the PSID row; the opt-in will find it.
    if (byPsid && byPsid.userRef !== null) return 'conflict';
    if (byPsid) await client.query(`UPDATE "Subscriber" SET "userRef" = $2, "updatedAt" = now() WHERE id = $1`, [byPsid.id, userRef]);
    else await client.query(`INSERT INTO "Subscriber" ("pageId", psid, "userRef", "updatedAt") VALUES ($1, $2, $3, now())`, [pageId, psid, userRef]);
    return 'ref_recorded';
  }
  if (!byPsid) {
    await client.query(`UPDATE "Subscriber" SET psid = $2, "updatedAt" = now() WHERE id = $1`, [byRef.id, psid]);
    return 'linked';
  }
  if (byPsid.userRef !== null) return 'conflict';
  await client.query(`UPDATE "OptIn" SET "subscriberId" = $2, "updatedAt" = now() WHERE "subscriberId" = $1`, [byRef.id, byPsid.id]);
  await client.query(`UPDATE "OptInRequest" SET "subscriberId" = $2 WHERE "subscriberId" = $1`, [byRef.id, byPsid.id]);
  await client.query(`DELETE FROM "Subscriber" WHERE id = $1`, [byRef.id]);
  await client.query(
    `UPDATE "Subscriber" SET "userRef" = $2, "lastUserMessageAt" = GREATEST("lastUserMessageAt", $3), "updatedAt" = now() WHERE id = $1`,
    [byPsid.id, userRef, byRef.lastUserMessageAt],
  );
  return 'merged';
}

