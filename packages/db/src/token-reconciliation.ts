import type pg from 'pg';
import { isForeignToken } from './optins.js';
import { upsertSubscriberByPsid } from './subscribers.js';
import type { Database } from './client.js';
import type { OptInStatus } from './generated/prisma/enums.js';
import { loadPageForSending } from './pages.js';
import { withTransaction, type Queryable } from './tx.js';
import type { SecretBox } from './secret-box.js';

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

