import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Database } from './client.js';
import type { Frequency, OptInKind, OptInStatus } from './generated/prisma/enums.js';
import { loadPageForSending } from './pages.js';
import { storableJson, storableText } from './storable-json.js';
import { withTransaction, type Queryable } from './tx.js';
import type { SecretBox } from './secret-box.js';

/*
 * The token store: webhook receipts, subscribers and opt-ins. Writes that must respect event order use raw SQL
 * guarded by "statusAt" (the webhook timestamp of the last status change), so a late, older webhook never
 * overwrites newer state and a replayed one changes nothing.
 */

// ---------------------------------------------------------------------------------------------------------
// Webhook receipts

export interface StoredReceipt {
  id: string;
  /** The same bytes were received before (Meta redelivers): nothing new was stored. */
  duplicate: boolean;
  processed: boolean;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores a raw webhook body once per distinct body; a redelivery returns the first receipt. */
export async function storeWebhookReceipt(db: Database, rawBody: Buffer): Promise<StoredReceipt> {
  const bodySha256 = sha256Hex(rawBody);
  const inserted = await db.pool.query<{ id: string }>(
    `INSERT INTO "WebhookReceipt" ("bodySha256", "rawBody") VALUES ($1, $2) ON CONFLICT ("bodySha256") DO NOTHING RETURNING id`,
    [bodySha256, rawBody.toString('utf8')],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, duplicate: false, processed: false };
  const existing = await db.pool.query<{ id: string; processedAt: Date | null }>(
    `SELECT id, "processedAt" FROM "WebhookReceipt" WHERE "bodySha256" = $1`,
    [bodySha256],
  );
  const row = existing.rows[0];
  if (!row) throw new Error('webhook receipt vanished between insert and select');
  return { id: row.id, duplicate: true, processed: row.processedAt !== null };
}

export interface WebhookReceiptRow {
  id: string;
  rawBody: string;
  receivedAt: Date;
  processedAt: Date | null;
}

export async function loadWebhookReceipt(db: Database, id: string): Promise<WebhookReceiptRow | null> {
  const result = await db.pool.query<WebhookReceiptRow>(
    `SELECT id, "rawBody", "receivedAt", "processedAt" FROM "WebhookReceipt" WHERE id = $1`,
    [id],
  );
  return result.rows[0] ?? null;
}

export async function markWebhookReceiptProcessed(db: Database, id: string): Promise<void> {
  await db.pool.query(`UPDATE "WebhookReceipt" SET "processedAt" = now() WHERE id = $1 AND "processedAt" IS NULL`, [id]);
}

/** Receipts stored but not processed for `olderThanMs`: their job was lost (Redis down at intake) or is stuck. */
export async function findStaleWebhookReceipts(db: Database, olderThanMs: number, limit = 500): Promise<string[]> {
  const result = await db.pool.query<{ id: string }>(
    `SELECT id FROM "WebhookReceipt"
      WHERE "processedAt" IS NULL AND "receivedAt" < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY "receivedAt" LIMIT $2`,
    [olderThanMs, limit],
  );
  return result.rows.map((row) => row.id);
}

/** Stores a dead letter; NUL and lone surrogates (the usual reason for one) are escaped so it can always be stored. */
export async function recordDeadLetter(db: Database | Queryable, kind: string, reason: string, payload: unknown): Promise<void> {
  const queryable = 'pool' in db ? db.pool : db;
  await queryable.query(`INSERT INTO "DeadLetter" (kind, reason, payload) VALUES ($1, $2, $3::jsonb)`, [
    kind,
    storableText(reason),
    JSON.stringify(storableJson(payload ?? null)),
  ]);
}

/**
 * Marks a webhook receipt processed together with its dead letters, in one transaction. When someone else
 * finished the receipt meanwhile, nothing is written: their dead letters are the record.
 */
export async function finishWebhookReceipt(
  db: Database,
  receiptId: string,
  deadLetterKind: string,
  deadLetters: ReadonlyArray<{ reason: string; payload: unknown }>,
): Promise<void> {
  await withTransaction(db, async (client) => {
    const marked = await client.query(`UPDATE "WebhookReceipt" SET "processedAt" = now() WHERE id = $1 AND "processedAt" IS NULL`, [receiptId]);
    if (marked.rowCount === 0) return;
    for (const letter of deadLetters) await recordDeadLetter(client, deadLetterKind, letter.reason, letter.payload);
  });
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

// ---------------------------------------------------------------------------------------------------------
// Opt-ins (tokens)

/**
 * `foreign_token`: the token is stored for another Page. A webhook is verified for one Page only, so it may never
 * touch another Page's token; the event is refused and nothing changes.
 */
export type ApplyOutcome = 'created' | 'renewed' | 'updated' | 'unchanged' | 'stale' | 'foreign_token';

/** True when `token` is stored for a Page other than `pageId`. */
async function isForeignToken(client: Queryable, pageId: string, token: string): Promise<boolean> {
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

// ---------------------------------------------------------------------------------------------------------
// Reconciliation with Meta's token list (messenger-platform.md §2.4)

/** One item of Meta's notification_message_tokens list (structurally @renotify/messenger's NotificationMessageTokenInfo). */
export interface RemoteNotificationToken {
  token: string;
  recipientId: string;
  createdAt?: Date;
  expiresAt?: Date;
  userTokenStatus?: 'REFRESHED' | 'NOT_REFRESHED';
  topicTitle?: string;
  timezone?: string;
  nextEligibleAt?: Date;
}

/** Whatever can list a Page's tokens page by page (the Graph client). */
export interface TokenLister {
  listNotificationMessageTokens(input: {
    pageId: string;
    accessToken: string;
    /** The Page's app secret: the client sends appsecret_proof with it. */
    appSecret?: string;
    graphVersion: string;
    after?: string;
    limit?: number;
  }): Promise<{ tokens: RemoteNotificationToken[]; nextCursor?: string }>;
}

export interface ReconcileDetail {
  action: 'added' | 'updated';
  tokenFingerprint: string;
  optInId: string;
  psid: string;
  /** Field → [ours before, Meta's]. */
  changes: Record<string, [unknown, unknown]>;
}

export interface ReconcileReport {
  pageId: string;
  fetched: number;
  added: number;
  updated: number;
  unchanged: number;
  /** Our ACTIVE recurring tokens Meta did not list. Reported, not changed: a listing can be partial. */
  notListedByMeta: number;
  /** Tokens Meta listed for this Page that are stored for another Page: left untouched. */
  foreignTokens: number;
  details: ReconcileDetail[];
}

export interface ReconcileOptions {
  fingerprint: (token: string) => string;
  now?: Date;
  pageSize?: number;
  /** Guards against a cursor that never ends. */
  maxPages?: number;
}

/** Every token Meta lists for the Page, following the cursor to the end. */
export async function fetchAllRemoteTokens(
  lister: TokenLister,
  page: { id: string; accessToken: string; appSecret?: string; graphVersion: string },
  { pageSize = 100, maxPages = 10_000 }: Pick<ReconcileOptions, 'pageSize' | 'maxPages'> = {},
): Promise<RemoteNotificationToken[]> {
  const tokens: RemoteNotificationToken[] = [];
  const seenCursors = new Set<string>();
  let after: string | undefined;
  for (let pageNo = 0; pageNo < maxPages; pageNo++) {
    const request = { pageId: page.id, accessToken: page.accessToken, appSecret: page.appSecret, graphVersion: page.graphVersion, limit: pageSize };
    const result = await lister.listNotificationMessageTokens(after === undefined ? request : { ...request, after });
    tokens.push(...result.tokens);
    if (!result.nextCursor || seenCursors.has(result.nextCursor)) return tokens;
    seenCursors.add(result.nextCursor);
    after = result.nextCursor;
  }
  throw new Error(`token listing for Page ${page.id} did not end after ${maxPages} pages`);
}

interface LocalTokenRow {
  id: string;
  token: string;
  subscriberId: string;
  topic: string;
  title: string | null;
  timezone: string | null;
  status: OptInStatus;
  expiresAt: Date | null;
  nextEligibleAt: Date | null;
}

/**
 * Meta lists next_eligible_time in whole seconds, often as "now" for a token that is eligible: within this skew of
 * our clock it is not a constraint worth storing.
 */
const NEXT_ELIGIBLE_SKEW_MS = 60_000;
const isFutureConstraint = (at: Date, now: Date) => at.getTime() > now.getTime() + NEXT_ELIGIBLE_SKEW_MS;

const sameInstant = (a: Date | null | undefined, b: Date | null | undefined) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/**
 * Repairs the store from Meta's list: tokens we lack are added (the subscriber by recipient_id; the topic from
 * the opt-in request we sent with that title, else the title itself), and expiry, time zone, ACTIVE/EXPIRED and
 * next-eligible drift are corrected (the last only towards later). STOPPED and INVALID are our own knowledge and are kept.
 * Null when the Page is unknown.
 */
export async function reconcilePageTokens(
  db: Database,
  secrets: SecretBox,
  lister: TokenLister,
  pageId: string,
  options: ReconcileOptions,
): Promise<ReconcileReport | null> {
  const page = await loadPageForSending(db, secrets, pageId);
  if (!page) return null;
  const now = options.now ?? new Date();
  const remote = await fetchAllRemoteTokens(lister, page, options);
  const report: ReconcileReport = { pageId, fetched: remote.length, added: 0, updated: 0, unchanged: 0, notListedByMeta: 0, foreignTokens: 0, details: [] };
  const listed = new Set<string>();

  for (const item of remote) {
    listed.add(item.token);
    const detail = await withTransaction(db, (client) => reconcileOne(client, pageId, item, now, options.fingerprint));
    if (detail === 'foreign_token') report.foreignTokens++;
    else if (!detail) report.unchanged++;
    else {
      report[detail.action]++;
      report.details.push(detail);
    }
  }

  const ours = await db.pool.query<{ token: string }>(
    `SELECT token FROM "OptIn" WHERE "pageId" = $1 AND kind = 'RECURRING' AND status = 'ACTIVE'`,
    [pageId],
  );
  report.notListedByMeta = ours.rows.filter((row) => !listed.has(row.token)).length;
  return report;
}

async function reconcileOne(
  client: pg.PoolClient,
  pageId: string,
  item: RemoteNotificationToken,
  now: Date,
  fingerprint: (token: string) => string,
): Promise<ReconcileDetail | 'foreign_token' | null> {
  const subscriberId = await upsertSubscriberByPsid(client, pageId, item.recipientId);
  const remoteExpired = item.expiresAt !== undefined && item.expiresAt.getTime() <= now.getTime();
  const columns = `id, token, "subscriberId", topic, title, timezone, status, "expiresAt", "nextEligibleAt"`;
  let local = (await client.query<LocalTokenRow>(`SELECT ${columns} FROM "OptIn" WHERE "pageId" = $1 AND token = $2 FOR UPDATE`, [pageId, item.token])).rows[0];
  const changes: ReconcileDetail['changes'] = {};

  if (!local) {
    // Listed for this Page but stored for another: this Page's listing has no say over that row.
    if (await isForeignToken(client, pageId, item.token)) return 'foreign_token';
    const topic = await topicForRemoteToken(client, subscriberId, item.topicTitle);
    // Meta renewed a token we hold under an older one: the row for (person, topic, DAILY) takes the new token.
    const series = (
      await client.query<LocalTokenRow>(
        `SELECT ${columns} FROM "OptIn"
          WHERE "subscriberId" = $1 AND topic = $2 AND frequency = 'DAILY' AND kind = 'RECURRING' AND status <> 'INVALID' FOR UPDATE`,
        [subscriberId, topic],
      )
    ).rows[0];
    if (!series) {
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO "OptIn" ("pageId", "subscriberId", kind, topic, title, token, "tokenFingerprint", frequency, timezone, status,
                              "statusAt", "expiresAt", "nextEligibleAt", "updatedAt")
         VALUES ($1, $2, 'RECURRING', $3, $4, $5, $6, 'DAILY', $7, $8, $9, $10, $11, now()) RETURNING id`,
        [
          pageId,
          subscriberId,
          topic,
          item.topicTitle ?? null,
          item.token,
          fingerprint(item.token),
          item.timezone ?? null,
          remoteExpired ? 'EXPIRED' : 'ACTIVE',
          item.createdAt ?? now,
          item.expiresAt ?? null,
          item.nextEligibleAt && isFutureConstraint(item.nextEligibleAt, now) ? item.nextEligibleAt : null,
        ],
      );
      return { action: 'added', tokenFingerprint: fingerprint(item.token), optInId: inserted.rows[0]!.id, psid: item.recipientId, changes: { topic: [null, topic] } };
    }
    changes.token = [fingerprint(series.token), fingerprint(item.token)];
    await client.query(`UPDATE "OptIn" SET token = $2, "tokenFingerprint" = $3, "updatedAt" = now() WHERE id = $1`, [
      series.id,
      item.token,
      fingerprint(item.token),
    ]);
    local = { ...series, token: item.token };
  }

  const set: string[] = [];
  const values: unknown[] = [local.id];
  const change = (column: string, field: string, before: unknown, after: unknown) => {
    values.push(after);
    set.push(`"${column}" = $${values.length}`);
    changes[field] = [before, after];
  };
  if (item.expiresAt !== undefined && !sameInstant(local.expiresAt, item.expiresAt)) change('expiresAt', 'expiresAt', local.expiresAt, item.expiresAt);
  // Only in the safe direction: a later time from Meta avoids its "too early" error (4/2018354); a time at or about
  // now just means "eligible" and must not loosen a stricter cadence of our own policy.
  const remoteNext = item.nextEligibleAt;
  if (remoteNext !== undefined && isFutureConstraint(remoteNext, now) && (local.nextEligibleAt === null || remoteNext.getTime() > local.nextEligibleAt.getTime())) {
    change('nextEligibleAt', 'nextEligibleAt', local.nextEligibleAt, remoteNext);
  }
  if (item.timezone !== undefined && local.timezone !== item.timezone) change('timezone', 'timezone', local.timezone, item.timezone);
  if (item.topicTitle !== undefined && local.title === null) change('title', 'title', local.title, item.topicTitle);
  const status: OptInStatus | null =
    local.status === 'ACTIVE' && remoteExpired ? 'EXPIRED' : local.status === 'EXPIRED' && !remoteExpired ? 'ACTIVE' : null;
  if (status) {
    change('status', 'status', local.status, status);
    values.push(now);
    set.push(`"statusAt" = GREATEST("statusAt", $${values.length})`);
  }
  if (set.length > 0) await client.query(`UPDATE "OptIn" SET ${set.join(', ')}, "updatedAt" = now() WHERE id = $1`, values);
  if (Object.keys(changes).length === 0) return null;
  return { action: 'updated', tokenFingerprint: fingerprint(item.token), optInId: local.id, psid: item.recipientId, changes };
}

/** The title Meta shows when an opt-in request named none (messenger-platform.md §2.1). */
export const META_DEFAULT_OPT_IN_TITLE = 'Updates and promotions';

/** Meta lists a title, not our payload: the opt-in request we sent with that title knows the topic. */
async function topicForRemoteToken(client: Queryable, subscriberId: string, title: string | undefined): Promise<string> {
  if (title === undefined) return META_DEFAULT_OPT_IN_TITLE;
  const request = await client.query<{ topic: string }>(
    `SELECT topic FROM "OptInRequest" WHERE "subscriberId" = $1 AND title = $2 AND kind = 'RECURRING' ORDER BY "sentAt" DESC LIMIT 1`,
    [subscriberId, title],
  );
  return request.rows[0]?.topic ?? title;
}
