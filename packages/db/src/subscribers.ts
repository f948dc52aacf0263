import { recordAudit } from './audit.js';
import type { Database } from './client.js';
import { withTransaction, type Queryable } from './tx.js';

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
  // The user_ref moves before the emptied row goes: deleting a row that still names someone is an erase to the
  // outbox trigger (migration 20261201500000), which would drop the person's unsent webhooks (optin.created).
  await client.query(`UPDATE "Subscriber" SET "userRef" = NULL WHERE id = $1`, [byRef.id]);
  await client.query(
    `UPDATE "Subscriber" SET "userRef" = $2, "lastUserMessageAt" = GREATEST("lastUserMessageAt", $3), "updatedAt" = now() WHERE id = $1`,
    [byPsid.id, userRef, byRef.lastUserMessageAt],
  );
  await client.query(`DELETE FROM "Subscriber" WHERE id = $1`, [byRef.id]);
  return 'merged';
}


// ---------------------------------------------------------------------------------------------------------
// The Subscribers API: list, settings, stop, erase (all scoped to one Page)

/** Meta's standard messaging window: 24 hours after the person's last message. */
export const STANDARD_WINDOW_MS = 24 * 3600_000;

/** What the API shows of a person: never a token. */
export interface SubscriberSummary {
  id: string;
  psid: string | null;
  userRef: string | null;
  timezone: string | null;
  locale: string | null;
  lastUserMessageAt: Date | null;
  /** Active tokens by kind (counts only). */
  activeTokens: { ONE_TIME: number; RECURRING: number };
}

interface SubscriberViewRow {
  id: string;
  psid: string | null;
  userRef: string | null;
  timezone: string | null;
  locale: string | null;
  lastUserMessageAt: Date | null;
  oneTime: number;
  recurring: number;
}

const toSubscriberView = (row: SubscriberViewRow): SubscriberSummary => ({
  id: row.id,
  psid: row.psid,
  userRef: row.userRef,
  timezone: row.timezone,
  locale: row.locale,
  lastUserMessageAt: row.lastUserMessageAt,
  activeTokens: { ONE_TIME: row.oneTime, RECURRING: row.recurring },
});

const SUBSCRIBER_VIEW_SELECT = `
  SELECT s.id, s.psid, s."userRef", s.timezone, s.locale, s."lastUserMessageAt",
         (SELECT count(*) FROM "OptIn" o WHERE o."subscriberId" = s.id AND o.status = 'ACTIVE' AND o.kind = 'ONE_TIME')::int AS "oneTime",
         (SELECT count(*) FROM "OptIn" o WHERE o."subscriberId" = s.id AND o.status = 'ACTIVE' AND o.kind = 'RECURRING')::int AS recurring
  FROM "Subscriber" s`;

export interface SubscriberListQuery {
  /** Only people whose last message is after this instant (their 24h window is open: pass now − 24h). */
  messagedAfter?: Date;
  /** Only people who have not messaged since this instant (or never): their window is closed. */
  notMessagedAfter?: Date;
  /** Only people holding an ACTIVE token for this topic. */
  topic?: string;
  /** Keyset: the id of the last subscriber of the previous page. */
  after?: string;
  limit: number;
}

/** One page of a Page's subscribers in id order, plus the id to continue after (null on the last page). */
export async function listSubscribers(db: Database, pageId: string, query: SubscriberListQuery): Promise<{ items: SubscriberSummary[]; next: string | null }> {
  const { rows } = await db.pool.query<SubscriberViewRow>(
    `${SUBSCRIBER_VIEW_SELECT}
     WHERE s."pageId" = $1
       AND ($2::timestamp IS NULL OR s."lastUserMessageAt" > $2::timestamp)
       AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM "OptIn" t WHERE t."subscriberId" = s.id AND t.topic = $3 AND t.status = 'ACTIVE'))
       AND ($4::uuid IS NULL OR s.id > $4::uuid)
       AND ($6::timestamp IS NULL OR s."lastUserMessageAt" IS NULL OR s."lastUserMessageAt" <= $6::timestamp)
     ORDER BY s.id
     LIMIT $5`,
    [pageId, query.messagedAfter ?? null, query.topic ?? null, query.after ?? null, query.limit + 1, query.notMessagedAfter ?? null],
  );
  const items = rows.slice(0, query.limit).map(toSubscriberView);
  return { items, next: rows.length > query.limit ? (items.at(-1)?.id ?? null) : null };
}

/** The person known on `pageId` by `psid` (null when the Page has no such PSID). */
export async function getSubscriber(db: Database, pageId: string, psid: string): Promise<SubscriberSummary | null> {
  const { rows } = await db.pool.query<SubscriberViewRow>(`${SUBSCRIBER_VIEW_SELECT} WHERE s."pageId" = $1 AND s.psid = $2`, [pageId, psid]);
  return rows[0] ? toSubscriberView(rows[0]) : null;
}

/** Settings the business may set for a person; null clears one. */
export interface SubscriberSettings {
  timezone?: string | null;
  locale?: string | null;
}

/** Sets the person's zone and/or locale; null when the Page has no such PSID. */
export async function updateSubscriberSettings(db: Database, pageId: string, psid: string, settings: SubscriberSettings): Promise<SubscriberSummary | null> {
  const result = await db.pool.query(
    `UPDATE "Subscriber" SET
       timezone = CASE WHEN $3 THEN $4 ELSE timezone END,
       locale = CASE WHEN $5 THEN $6 ELSE locale END,
       "updatedAt" = now()
     WHERE "pageId" = $1 AND psid = $2`,
    [pageId, psid, settings.timezone !== undefined, settings.timezone ?? null, settings.locale !== undefined, settings.locale ?? null],
  );
  if (result.rowCount === 0) return null;
  return getSubscriber(db, pageId, psid);
}

/*
 * lockOrderNote: a dispatch claim (deliveries.ts claim) locks its PENDING deliveries, then updates their tokens.
 * Stop and erase take the same order (the person's deliveries, then their tokens); the opposite order deadlocked
 * with a claim in flight, and Postgres aborted the erase (a 500 to the business).
 */

/** Postgres errors that mean "a concurrent transaction got in the way; the same transaction again will pass". */
const LOCK_CONFLICT_CODES = new Set([
  '40P01', // deadlock detected
  '40001', // serialization failure
  '23503', // a fan-out inserted a delivery for a token being deleted (its foreign key check saw the token go)
]);
const LOCK_CONFLICT_ATTEMPTS = 3;

/** Runs a whole transaction again (up to 3 times) when a concurrent one made it fail; stop and erase are idempotent. */
async function retryOnLockConflict<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= LOCK_CONFLICT_ATTEMPTS || typeof code !== 'string' || !LOCK_CONFLICT_CODES.has(code)) throw error;
    }
  }
}

export interface StopReport {
  /** Tokens that were ACTIVE and are now STOPPED. */
  stoppedTokens: number;
  /** Deliveries that were waiting (PENDING) and are now SKIPPED with reason STOPPED. */
  skippedDeliveries: number;
}

/**
 * Stops every token of the person on the business's side: ACTIVE tokens become STOPPED (status time = now, so a
 * later webhook from Meta, e.g. the person opting in again or resuming, still applies), and their PENDING
 * deliveries become SKIPPED (STOPPED). Later fan-outs record them as skipped. Null when the PSID is unknown.
 * Idempotent: a second call stops nothing more.
 */
export async function stopSubscriber(db: Database, pageId: string, psid: string, now: Date, actor: string): Promise<StopReport | null> {
  return retryOnLockConflict(() => withTransaction(db, async (client) => {
    const subscriber = (await client.query<{ id: string }>(`SELECT id FROM "Subscriber" WHERE "pageId" = $1 AND psid = $2 FOR UPDATE`, [pageId, psid])).rows[0];
    if (!subscriber) return null;
    // Deliveries before tokens: the order a dispatch claim locks them in (see lockOrderNote).
    const skipped = await client.query(
      `UPDATE "Delivery" d SET status = 'SKIPPED', "skipReason" = 'STOPPED', "finishedAt" = $2::timestamp, "notBefore" = NULL
       FROM "OptIn" o WHERE o."subscriberId" = $1 AND d."optInId" = o.id AND d.status = 'PENDING'`,
      [subscriber.id, now],
    );
    const stopped = await client.query<{ id: string }>(
      `UPDATE "OptIn" SET status = 'STOPPED', "statusAt" = GREATEST("statusAt", $2::timestamp), "updatedAt" = now()
       WHERE "subscriberId" = $1 AND status = 'ACTIVE' RETURNING id`,
      [subscriber.id, now],
    );
    const report = { stoppedTokens: stopped.rowCount ?? 0, skippedDeliveries: skipped.rowCount ?? 0 };
    await recordAudit(client, { action: 'SUBSCRIBER_STOPPED', pageId, actor, details: { ...report } });
    return report;
  }));
}

/** Counts of what an erase removed or anonymised (the audit entry's details). */
export interface EraseReport {
  subscribers: number;
  tokens: number;
  /** Delivery rows kept as anonymous counts (token reference, message id and error text removed). */
  deliveriesAnonymised: number;
  optInRequests: number;
  webhookReceipts: number;
  deadLetters: number;
}

/**
 * Erases a person (GDPR) in one transaction: their tokens, opt-in requests and subscriber row are deleted; their
 * deliveries stay as anonymous status rows (token reference, Meta message id and error text removed; waiting ones
 * SKIPPED); webhook receipts (raw bodies from Meta) and dead letters that mention the PSID, the user_ref or one of
 * the tokens are deleted; only those that also name this Page (Meta's PSIDs are Page-scoped). Writes one audit entry (counts only).
 * Idempotent: a second call finds nothing and records an entry with zero counts.
 */
export async function eraseSubscriber(db: Database, pageId: string, psid: string, now: Date, actor: string): Promise<EraseReport> {
  return retryOnLockConflict(() => withTransaction(db, async (client) => {
    // The subscriber row lock also keeps new tokens of this person out until the erase commits (their foreign key
    // needs it). The tokens themselves are not locked here: deliveries are locked first (lockOrderNote).
    const people = (
      await client.query<{ id: string; userRef: string | null }>(`SELECT id, "userRef" FROM "Subscriber" WHERE "pageId" = $1 AND psid = $2 FOR UPDATE`, [pageId, psid])
    ).rows;
    const ids = people.map((person) => person.id);
    const tokens = (await client.query<{ id: string; token: string }>(`SELECT id, token FROM "OptIn" WHERE "subscriberId" = ANY($1::uuid[])`, [ids])).rows;
    const optInIds = tokens.map((token) => token.id);
    // Every string that identifies the person in raw payloads.
    const needles = [psid, ...people.flatMap((person) => (person.userRef ? [person.userRef] : [])), ...tokens.map((token) => token.token)];

    const deliveries = await client.query(
      `UPDATE "Delivery" SET "optInId" = NULL, "messageId" = NULL, "lastError" = NULL,
         status = CASE WHEN status = 'PENDING' THEN 'SKIPPED'::"DeliveryStatus" ELSE status END,
         "skipReason" = CASE WHEN status = 'PENDING' THEN 'STOPPED' ELSE "skipReason" END,
         "finishedAt" = CASE WHEN status = 'PENDING' THEN $2::timestamp ELSE "finishedAt" END,
         "notBefore" = NULL
       WHERE "optInId" = ANY($1::uuid[])`,
      [optInIds, now],
    );
    const requests = await client.query(`DELETE FROM "OptInRequest" WHERE "subscriberId" = ANY($1::uuid[])`, [ids]);
    const deletedTokens = await client.query(`DELETE FROM "OptIn" WHERE id = ANY($1::uuid[])`, [optInIds]);
    const subscribers = await client.query(`DELETE FROM "Subscriber" WHERE id = ANY($1::uuid[])`, [ids]);
    // strpos, not LIKE: identifiers may contain LIKE's wildcards. In JSON the identifiers are whole string values,
    // so they are looked for with their quotes (to_json): a PSID "55" must not take another person's receipt that
    // merely contains "1553", possibly one not processed yet (that webhook would be lost).
    const receipts = await client.query(
      `DELETE FROM "WebhookReceipt" WHERE strpos("rawBody", $1) > 0 AND EXISTS (SELECT 1 FROM unnest($2::text[]) n WHERE strpos("rawBody", to_json(n)::text) > 0)`,
      [pageId, needles],
    );
    const deadLetters = await client.query(
      `DELETE FROM "DeadLetter" WHERE (strpos(payload::text, $1) > 0 OR strpos(reason, $1) > 0)
         AND EXISTS (SELECT 1 FROM unnest($2::text[]) n WHERE strpos(payload::text, to_json(n)::text) > 0 OR strpos(reason, n) > 0)`,
      [pageId, needles],
    );
    const report: EraseReport = {
      subscribers: subscribers.rowCount ?? 0,
      tokens: deletedTokens.rowCount ?? 0,
      deliveriesAnonymised: deliveries.rowCount ?? 0,
      optInRequests: requests.rowCount ?? 0,
      webhookReceipts: receipts.rowCount ?? 0,
      deadLetters: deadLetters.rowCount ?? 0,
    };
    await recordAudit(client, { action: 'SUBSCRIBER_ERASED', pageId, actor, details: { ...report } });
    return report;
  }));
}
