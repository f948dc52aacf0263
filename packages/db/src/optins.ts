import type { Database } from './client.js';
import type { Frequency, OptInKind, OptInStatus } from './generated/prisma/enums.js';
import type { Queryable } from './tx.js';


/*
 * The token store: webhook receipts, subscribers and opt-ins. Writes that must respect event order use raw SQL
 * guarded by "statusAt" (the webhook timestamp of the last status change), so a late, older webhook never
 * overwrites newer state and a replayed one changes nothing.
 */


// ---------------------------------------------------------------------------------------------------------
// Opt-ins (tokens)

/**
 * `foreign_token`: the token is stored for another Page. A webhook is verified for one Page only, so it may never
 * touch another Page's token; the event is refused and nothing changes.
 */
export type ApplyOutcome = 'created' | 'renewed' | 'updated' | 'unchanged' | 'stale' | 'foreign_token';

/** True when `token` is stored for a Page other than `pageId`. */
export async function isForeignToken(client: Queryable, pageId: string, token: string): Promise<boolean> {
  const result = await client.query(`SELECT 1 FROM "OptIn" WHERE token = $1 AND "pageId" <> $2`, [token, pageId]);
  return (result.rowCount ?? 0) > 0;
}

/** The opt-in row of this Page holding `token`, locked for the caller's transaction. Never another Page's row. */
async function lockPageToken(client: Queryable, pageId: string, token: string): Promise<OptInStateRow | undefined> {
  const result = await client.query<OptInStateRow>(`SELECT id, token, status, "statusAt" FROM "OptIn" WHERE "pageId" = $1 AND token = $2 FOR UPDATE`, [
    pageId,
    token,
  ]);
  return result.rows[0];
}

export interface OneTimeOptInInput {
  pageId: string;
  subscriberId: string;
  token: string;
  tokenFingerprint: string;
  topic: string;
  title: string | null;
  at: Date;
  expiresAt: Date | null;
}

/** One token per webhook: a replay finds the token already stored and changes nothing. */
export async function applyOneTimeOptIn(client: Queryable, input: OneTimeOptInInput): Promise<ApplyOutcome> {
  const result = await client.query(
    `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, title, token, "tokenFingerprint", status, "statusAt", "expiresAt", "updatedAt")
     VALUES ($1, $2, 'ONE_TIME', $3, $4, $5, $6, 'ACTIVE', $7, $8, now())
     ON CONFLICT (token) DO NOTHING`,
    [input.pageId, input.subscriberId, input.topic, input.title, input.token, input.tokenFingerprint, input.at, input.expiresAt],
  );
  if (result.rowCount) return 'created';
  return (await isForeignToken(client, input.pageId, input.token)) ? 'foreign_token' : 'unchanged';
}

export interface RecurringOptInInput {
  pageId: string;
  subscriberId: string;
  token: string;
  tokenFingerprint: string;
  topic: string;
  title: string | null;
  frequency: Frequency;
  timezone: string | null;
  at: Date;
  expiresAt: Date | null;
}

interface OptInStateRow {
  id: string;
  token: string;
  status: OptInStatus;
  statusAt: Date;
}

/**
 * A recurring opt-in. Meta keeps one token per (person, topic, frequency): a re-opt-in (REFRESHED or not)
 * renews the existing row, with the new token if Meta issued one, instead of adding a second row. An opt-in
 * counts as a status change to ACTIVE at its timestamp, so an older STOP arriving later cannot undo it, and an
 * opt-in older than the row's last status change (a replay, or overtaken by a STOP) only fills in missing fields.
 */
export async function applyRecurringOptIn(client: Queryable, input: RecurringOptInInput): Promise<ApplyOutcome> {
  const sameToken = await lockPageToken(client, input.pageId, input.token);
  if (sameToken) {
    if (sameToken.statusAt.getTime() < input.at.getTime()) {
      // A newer opt-in with the same token (Meta keeps the token when the person re-opts in): it is the authority on
      // topic, title, frequency and expiry, and re-activates a stopped or expired token.
      await client.query(
        `UPDATE "OptIn" SET topic = $2, title = COALESCE($3, title), frequency = $4, timezone = COALESCE($5, timezone),
                "expiresAt" = COALESCE($6, "expiresAt"),
                status = CASE WHEN status IN ('ACTIVE', 'STOPPED', 'EXPIRED') THEN 'ACTIVE'::"OptInStatus" ELSE status END,
                "statusAt" = $7, "updatedAt" = now()
          WHERE id = $1`,
        [sameToken.id, input.topic, input.title, input.frequency, input.timezone, input.expiresAt, input.at],
      );
      return 'renewed';
    }
    // A replay, or an opt-in overtaken by a status webhook that created the row: only fill in what is missing.
    const filled = await client.query(
      `UPDATE "OptIn" SET title = COALESCE(title, $2), timezone = COALESCE(timezone, $3), "expiresAt" = COALESCE("expiresAt", $4), "updatedAt" = now()
        WHERE id = $1 AND ((title IS NULL AND $2::text IS NOT NULL) OR (timezone IS NULL AND $3::text IS NOT NULL)
                           OR ("expiresAt" IS NULL AND $4::timestamp IS NOT NULL))`,
      [sameToken.id, input.title, input.timezone, input.expiresAt],
    );
    return filled.rowCount ? 'updated' : 'unchanged';
  }
  // Neither renewing this Page's series with it nor inserting it may take over a token another Page holds.
  if (await isForeignToken(client, input.pageId, input.token)) return 'foreign_token';

  const series = (
    await client.query<OptInStateRow>(
      `SELECT id, token, status, "statusAt" FROM "OptIn"
        WHERE "subscriberId" = $1 AND topic = $2 AND frequency = $3 AND kind = 'RECURRING' AND status <> 'INVALID'
        FOR UPDATE`,
      [input.subscriberId, input.topic, input.frequency],
    )
  ).rows[0];
  if (series) {
    if (series.statusAt.getTime() >= input.at.getTime()) return 'stale';
    // The cadence (lastSentAt, nextEligibleAt) belongs to the person's subscription to this topic and carries over.
    await client.query(
      `UPDATE "OptIn" SET token = $2, "tokenFingerprint" = $3, title = COALESCE($4, title), timezone = COALESCE($5, timezone),
              "expiresAt" = $6, status = 'ACTIVE', "statusAt" = $7, "updatedAt" = now()
        WHERE id = $1`,
      [series.id, input.token, input.tokenFingerprint, input.title, input.timezone, input.expiresAt, input.at],
    );
    return 'renewed';
  }

  await client.query(
    `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, title, token, "tokenFingerprint", frequency, timezone, status, "statusAt", "expiresAt", "updatedAt")
     VALUES ($1, $2, 'RECURRING', $3, $4, $5, $6, $7, $8, 'ACTIVE', $9, $10, now())`,
    [input.pageId, input.subscriberId, input.topic, input.title, input.token, input.tokenFingerprint, input.frequency, input.timezone, input.at, input.expiresAt],
  );
  return 'created';
}

export interface RecurringStatusInput {
  pageId: string;
  subscriberId: string;
  token: string;
  tokenFingerprint: string;
  status: 'STOP' | 'RESUME';
  at: Date;
  /** Needed only when the token is unknown (the status webhook overtook the opt-in). */
  topic?: string;
  title?: string;
}

export type StatusOutcome = ApplyOutcome | 'unknown_token';

/**
 * STOP → STOPPED, RESUME → ACTIVE, unless a newer status change is already recorded. Tokens that were used up,
 * expired or rejected by Meta are not revived by a RESUME. When the status overtakes its opt-in, a row is
 * created from the status webhook (if it names the topic) so the later opt-in cannot reactivate it.
 */
export async function applyRecurringStatus(client: Queryable, input: RecurringStatusInput): Promise<StatusOutcome> {
  const target: OptInStatus = input.status === 'STOP' ? 'STOPPED' : 'ACTIVE';
  const existing = await lockPageToken(client, input.pageId, input.token);
  if (existing) {
    if (existing.statusAt.getTime() >= input.at.getTime()) return 'stale';
    const updated = await client.query(
      `UPDATE "OptIn" SET status = $2, "statusAt" = $3, "updatedAt" = now()
        WHERE id = $1 AND "statusAt" < $3 AND status IN ('ACTIVE', 'STOPPED')`,
      [existing.id, target, input.at],
    );
    return updated.rowCount ? (existing.status === target ? 'unchanged' : 'updated') : 'unchanged';
  }
  if (await isForeignToken(client, input.pageId, input.token)) return 'foreign_token';
  if (input.topic === undefined) return 'unknown_token';
  await client.query(
    `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, title, token, "tokenFingerprint", frequency, status, "statusAt", "updatedAt")
     VALUES ($1, $2, 'RECURRING', $3, $4, $5, $6, 'DAILY', $7, $8, now())`,
    [input.pageId, input.subscriberId, input.topic, input.title ?? null, input.token, input.tokenFingerprint, target, input.at],
  );
  return 'created';
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/** An opt-in as the API shows it: the token itself never leaves the store, only its fingerprint. */
export interface OptInView {
  id: string;
  pageId: string;
  subscriberId: string;
  psid: string | null;
  userRef: string | null;
  kind: OptInKind;
  topic: string;
  title: string | null;
  tokenFingerprint: string;
  frequency: Frequency | null;
  timezone: string | null;
  status: OptInStatus;
  statusAt: Date;
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  usedAt: Date | null;
  lastSentAt: Date | null;
  nextEligibleAt: Date | null;
}

const OPT_IN_VIEW_COLUMNS = `o.id, o."pageId", o."subscriberId", s.psid, s."userRef", o.kind, o.topic, o.title, o."tokenFingerprint",
  o.frequency, o.timezone, o.status, o."statusAt", o."expiresAt", o."createdAt", o."updatedAt", o."usedAt", o."lastSentAt", o."nextEligibleAt"`;

export interface OptInFilter {
  pageId: string;
  topic?: string;
  kind?: OptInKind;
  status?: OptInStatus;
  psid?: string;
  /** The last id of the previous page (keyset pagination on id). */
  after?: string;
  limit: number;
}

export async function listOptIns(db: Database, filter: OptInFilter): Promise<{ items: OptInView[]; nextCursor: string | null }> {
  const conditions = ['o."pageId" = $1'];
  const values: unknown[] = [filter.pageId];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    conditions.push(sql.replace('?', `$${values.length}`));
  };
  if (filter.topic !== undefined) add('o.topic = ?', filter.topic);
  if (filter.kind !== undefined) add('o.kind = ?::"OptInKind"', filter.kind);
  if (filter.status !== undefined) add('o.status = ?::"OptInStatus"', filter.status);
  if (filter.psid !== undefined) add('s.psid = ?', filter.psid);
  if (filter.after !== undefined) add('o.id > ?::uuid', filter.after);
  values.push(filter.limit + 1);
  const result = await db.pool.query<OptInView>(
    `SELECT ${OPT_IN_VIEW_COLUMNS} FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId"
      WHERE ${conditions.join(' AND ')} ORDER BY o.id LIMIT $${values.length}`,
    values,
  );
  const items = result.rows.slice(0, filter.limit);
  const nextCursor = result.rows.length > filter.limit ? (items[items.length - 1]?.id ?? null) : null;
  return { items, nextCursor };
}

export interface SubscriberView {
  id: string;
  pageId: string;
  psid: string | null;
  userRef: string | null;
  timezone: string | null;
  locale: string | null;
  lastUserMessageAt: Date | null;
  unavailableUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export async function getSubscriberWithOptIns(
  db: Database,
  pageId: string,
  psid: string,
): Promise<{ subscriber: SubscriberView; optIns: OptInView[] } | null> {
  const subscriber = (
    await db.pool.query<SubscriberView>(
      `SELECT id, "pageId", psid, "userRef", timezone, locale, "lastUserMessageAt", "unavailableUntil", "createdAt", "updatedAt"
         FROM "Subscriber" WHERE "pageId" = $1 AND psid = $2`,
      [pageId, psid],
    )
  ).rows[0];
  if (!subscriber) return null;
  const optIns = await db.pool.query<OptInView>(
    `SELECT ${OPT_IN_VIEW_COLUMNS} FROM "OptIn" o JOIN "Subscriber" s ON s.id = o."subscriberId"
      WHERE o."subscriberId" = $1 ORDER BY o."createdAt", o.id`,
    [subscriber.id],
  );
  return { subscriber, optIns: optIns.rows };
}

