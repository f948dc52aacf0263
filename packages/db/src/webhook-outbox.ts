import type { Database } from './client.js';
import type { SecretBox } from './secret-box.js';
import type { Queryable } from './tx.js';

/*
 * The outbound webhook outbox (#15). Rows are written in the transaction of the change they report: by the
 * database triggers on "Delivery" and "OptIn" (migration 20261201200000_outbound_webhooks) and by
 * `recordInboundMessageWebhooks` below. The worker's relay claims due rows and queues one send job per row
 * (job id = row id); the send job records each attempt here. Postgres holds the retry state, so a Redis loss or
 * a killed worker delays a webhook, never loses it.
 */

/** PENDING (to send, or waiting for its next attempt), SENT, DEAD (attempts exhausted; redrivable). */
export type OutboxMessageStatus = 'PENDING' | 'SENT' | 'DEAD';

/**
 * Claims up to `limit` PENDING rows that are due and not queued within `leaseMs` (a queued row whose job
 * vanished with Redis or a killed worker is queued again after the lease), marking them queued now.
 * Several workers may relay at once: SKIP LOCKED hands each row to one of them.
 */
export async function claimDueWebhookMessages(db: Database, { limit, leaseMs }: { limit: number; leaseMs: number }): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    `UPDATE "WebhookOutbox" w SET "enqueuedAt" = now() AT TIME ZONE 'UTC'
     FROM (
       SELECT o.id FROM "WebhookOutbox" o JOIN "WebhookEndpoint" e ON e.id = o."endpointId" AND e.enabled
       WHERE o.status = 'PENDING' AND o."nextAttemptAt" <= now() AT TIME ZONE 'UTC'
         AND (o."enqueuedAt" IS NULL OR o."enqueuedAt" < now() AT TIME ZONE 'UTC' - make_interval(secs => $2::double precision / 1000))
       ORDER BY o."nextAttemptAt", o."createdAt", o.id
       LIMIT $1
       FOR UPDATE OF o SKIP LOCKED
     ) due
     WHERE w.id = due.id
     RETURNING w.id`,
    [limit, leaseMs],
  );
  return rows.map((row) => row.id);
}

/** What the sender needs for one attempt; null when the row is gone (endpoint deleted). */
export interface WebhookMessageToSend {
  id: string;
  status: OutboxMessageStatus;
  endpointId: string;
  url: string;
  enabled: boolean;
  secret: string;
  eventType: string;
  payload: unknown;
  occurredAt: Date;
  attempts: number;
}

export async function loadWebhookMessageToSend(db: Database, secrets: SecretBox, id: string): Promise<WebhookMessageToSend | null> {
  const { rows } = await db.pool.query<Omit<WebhookMessageToSend, 'secret'> & { secretCipher: string }>(
    `SELECT o.id, o.status, o."endpointId", e.url, e.enabled, e."secretCipher", o."eventType", o.payload, o."occurredAt", o.attempts
     FROM "WebhookOutbox" o JOIN "WebhookEndpoint" e ON e.id = o."endpointId" WHERE o.id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return null;
  const { secretCipher, ...rest } = row;
  return { ...rest, secret: secrets.decrypt(secretCipher) };
}

export type WebhookAttemptOutcome =
  | { ok: true; statusCode: number }
  /** `retryInMs` null: no attempt left, the message is DEAD. */
  | { ok: false; statusCode: number | null; error: string; retryInMs: number | null };

/**
 * Records one attempt of a PENDING message: SENT, rescheduled (queued again by the relay once due) or DEAD.
 * Answers the new status, or null when the message was no longer PENDING (a duplicate job of a message already
 * finished: the attempt is not counted).
 */
export async function recordWebhookAttempt(db: Database, id: string, outcome: WebhookAttemptOutcome): Promise<OutboxMessageStatus | null> {
  const status: OutboxMessageStatus = outcome.ok ? 'SENT' : outcome.retryInMs === null ? 'DEAD' : 'PENDING';
  const { rows } = await db.pool.query<{ status: OutboxMessageStatus }>(
    `UPDATE "WebhookOutbox" SET
       status = $2::"WebhookMessageStatus",
       attempts = attempts + 1,
       "lastStatusCode" = $3,
       "lastError" = $4,
       "sentAt" = CASE WHEN $2 = 'SENT' THEN now() AT TIME ZONE 'UTC' ELSE "sentAt" END,
       "nextAttemptAt" = CASE WHEN $2 = 'PENDING' THEN now() AT TIME ZONE 'UTC' + make_interval(secs => $5::double precision / 1000) ELSE "nextAttemptAt" END,
       "enqueuedAt" = NULL
     WHERE id = $1 AND status = 'PENDING'
     RETURNING status`,
    [id, status, outcome.statusCode, outcome.ok ? null : outcome.error.slice(0, 1000), outcome.ok ? 0 : (outcome.retryInMs ?? 0)],
  );
  return rows[0]?.status ?? null;
}

/** DEAD messages of the endpoint back to PENDING with a fresh attempt budget, due now. Answers how many. */
export async function redriveWebhookMessages(db: Database, endpointId: string): Promise<number> {
  const { rowCount } = await db.pool.query(
    `UPDATE "WebhookOutbox" SET status = 'PENDING', attempts = 0, "nextAttemptAt" = now() AT TIME ZONE 'UTC', "enqueuedAt" = NULL
     WHERE "endpointId" = $1 AND status = 'DEAD'`,
    [endpointId],
  );
  return rowCount ?? 0;
}

export interface WebhookMessageView {
  id: string;
  endpointId: string;
  pageId: string;
  eventType: string;
  payload: unknown;
  status: OutboxMessageStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastStatusCode: number | null;
  lastError: string | null;
  occurredAt: Date;
  createdAt: Date;
  sentAt: Date | null;
}

export interface WebhookMessageCursor {
  createdAt: Date;
  id: string;
}

/** One endpoint's messages, newest first, keyset-paged on (createdAt, id). */
export async function listWebhookMessages(
  db: Database,
  { endpointId, status, after, limit }: { endpointId: string; status?: OutboxMessageStatus | undefined; after: WebhookMessageCursor | null; limit: number },
): Promise<{ items: WebhookMessageView[]; next: WebhookMessageCursor | null }> {
  const { rows } = await db.pool.query<WebhookMessageView>(
    `SELECT id, "endpointId", "pageId", "eventType", payload, status, attempts, "nextAttemptAt", "lastStatusCode", "lastError",
            "occurredAt", "createdAt", "sentAt"
     FROM "WebhookOutbox"
     WHERE "endpointId" = $1 AND ($2::text IS NULL OR status::text = $2)
       AND ($3::timestamp IS NULL OR ("createdAt", id) < ($3::timestamp, $4::uuid))
     ORDER BY "createdAt" DESC, id DESC LIMIT $5`,
    [endpointId, status ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/** Messages waiting to be sent (PENDING), for the backlog gauge. */
export async function countPendingWebhookMessages(db: Database): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "WebhookOutbox" WHERE status = 'PENDING'`);
  return rows[0]!.n;
}

/** The person's message or postback as Renotify received it (the `subscriber.message` webhook's data). */
export interface InboundMessage {
  pageId: string;
  psid: string;
  kind: 'message' | 'postback';
  /** Meta's message id; postbacks may have none. */
  mid: string | null;
  text: string | null;
  quickReplyPayload: string | null;
  postback: { payload: string; title: string } | null;
  at: Date;
}

/**
 * The inbound relay: one `subscriber.message` outbox row per enabled endpoint of the Page subscribed to it.
 * Called inside the transaction that records the person's message (the one that opens the 24h window). Meta
 * redelivers webhooks, so the row is keyed by the message (mid, else person + time + payload) and written once.
 */
export async function recordInboundMessageWebhooks(client: Queryable, message: InboundMessage): Promise<number> {
  const dedupeKey = message.mid ? `mid:${message.mid}` : `postback:${message.psid}:${message.at.getTime()}:${message.postback?.payload ?? ''}`;
  const data = {
    pageId: message.pageId,
    psid: message.psid,
    kind: message.kind.toUpperCase(),
    mid: message.mid,
    text: message.text,
    quickReplyPayload: message.quickReplyPayload,
    postback: message.postback,
    receivedAt: message.at.toISOString(),
  };
  const { rowCount } = await client.query(
    `INSERT INTO "WebhookOutbox" ("endpointId", "pageId", "eventType", payload, "dedupeKey", "occurredAt")
     SELECT e.id, e."pageId", 'subscriber.message', $2::jsonb, $3, $4::timestamp
     FROM "WebhookEndpoint" e WHERE e."pageId" = $1 AND e.enabled AND 'subscriber.message' = ANY (e.events)
     ON CONFLICT ("endpointId", "dedupeKey") DO NOTHING`,
    [message.pageId, JSON.stringify(data), dedupeKey, message.at],
  );
  return rowCount ?? 0;
}

/**
 * Deletes up to `limit` SENT messages sent before `before` (the outbox is a ledger of what is owed, not an archive).
 * `nextAttemptAt` ≤ `sentAt` for a SENT row, so the (status, nextAttemptAt) index finds them without a scan.
 */
export async function pruneSentWebhookMessages(
  db: Database,
  { before, deadBefore = null, limit }: { before: Date; deadBefore?: Date | null; limit: number },
): Promise<number> {
  // DEAD messages stay redrivable as long as dead letters do (RETENTION_DEAD_LETTERS_DAYS; null = forever).
  const { rowCount } = await db.pool.query(
    `DELETE FROM "WebhookOutbox" WHERE id IN (
       (SELECT id FROM "WebhookOutbox" WHERE status = 'SENT' AND "nextAttemptAt" < $1 AND "sentAt" < $1 LIMIT $2)
       UNION ALL
       (SELECT id FROM "WebhookOutbox" WHERE $3::timestamp IS NOT NULL AND status = 'DEAD' AND "nextAttemptAt" < $3 LIMIT $2)
     )`,
    [before, limit, deadBefore],
  );
  return rowCount ?? 0;
}
