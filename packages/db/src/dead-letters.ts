import { pgUnsafeReason } from '@renotify/domain';
import type { Database } from './client.js';
import { openSourcesSql } from './deliveries.js';

/**
 * The dead-letter views of the admin API: DEAD deliveries (kind "delivery") and DeadLetter rows (poisoned webhook
 * entries, invalid jobs), newest first, keyset-paged; and the redrive of DEAD deliveries.
 */

export const DELIVERY_DEAD_LETTER_KIND = 'delivery';

export interface DeadLetterRow {
  kind: string;
  id: string;
  at: Date;
  reason: string | null;
  code: number | null;
  subcode: number | null;
  attempts: number | null;
  sourceType: string | null;
  sourceId: string | null;
  batchNo: number | null;
  pageId: string | null;
  optInId: string | null;
  /** As stored: may carry opt-in tokens. Redact before it leaves the process. */
  payload: unknown;
  redrivenAt: Date | null;
}

/** Keyset position: (time, id) of the last item of the previous page. */
export interface DeadLetterCursor {
  at: Date;
  id: string;
}

/** One page (newest first) of DEAD deliveries and DeadLetter rows; `kind` narrows to one of them. */
export async function listDeadLetters(
  db: Database,
  { kind, after, limit }: { kind?: string | undefined; after?: DeadLetterCursor | null; limit: number },
): Promise<{ items: DeadLetterRow[]; next: DeadLetterCursor | null }> {
  const params: unknown[] = [limit + 1];
  const branches: string[] = [];
  // Times are stored as UTC "timestamp without time zone"; `at_utc` keeps them comparable with the cursor.
  if (kind === undefined || kind === DELIVERY_DEAD_LETTER_KIND) {
    branches.push(`SELECT '${DELIVERY_DEAD_LETTER_KIND}'::text AS kind, id::text AS id, COALESCE("finishedAt", "createdAt") AS at_utc,
                          "lastError" AS reason, "lastErrorCode" AS code, "lastErrorSubcode" AS subcode, attempts,
                          "sourceType"::text AS "sourceType", "sourceId", "batchNo", "pageId", "optInId"::text AS "optInId",
                          NULL::jsonb AS payload, NULL::timestamp AS "redrivenAt"
                   FROM "Delivery" WHERE "isDead"`);
  }
  if (kind !== DELIVERY_DEAD_LETTER_KIND) {
    const kindFilter = kind === undefined ? '' : `WHERE kind = $${params.push(kind)}`;
    branches.push(`SELECT kind, id::text AS id, "createdAt" AS at_utc, reason, NULL::int AS code, NULL::int AS subcode,
                          NULL::int AS attempts, NULL::text AS "sourceType", NULL::text AS "sourceId", NULL::int AS "batchNo",
                          NULL::text AS "pageId", NULL::text AS "optInId", payload, "redrivenAt"
                   FROM "DeadLetter" ${kindFilter}`);
  }
  const keyset = after
    ? `WHERE (at_utc, id) < ($${params.push(after.at)}::timestamptz AT TIME ZONE 'UTC', $${params.push(after.id)}::text)`
    : '';
  const { rows } = await db.pool.query<DeadLetterRow>(
    `SELECT kind, id, at_utc AT TIME ZONE 'UTC' AS at, reason, code, subcode, attempts, "sourceType", "sourceId", "batchNo",
            "pageId", "optInId", payload, "redrivenAt" AT TIME ZONE 'UTC' AS "redrivenAt"
     FROM (${branches.join(' UNION ALL ')}) AS dead
     ${keyset}
     ORDER BY at_utc DESC, id DESC
     LIMIT $1`,
    params,
  );
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last ? { at: last.at, id: last.id } : null };
}

/**
 * Which of `candidates` are stored opt-in tokens (OptIn.token has a unique index, so this is one index probe per
 * candidate). Used to cut live tokens out of payloads before they are shown.
 */
export async function findStoredTokens(db: Database, candidates: readonly string[]): Promise<string[]> {
  // A string Postgres cannot hold cannot be a stored token (and would fail the query).
  const storable = [...new Set(candidates)].filter((candidate) => pgUnsafeReason(candidate) === undefined);
  if (storable.length === 0) return [];
  const { rows } = await db.pool.query<{ token: string }>(`SELECT token FROM "OptIn" WHERE token = ANY($1::text[])`, [storable]);
  return rows.map((row) => row.token);
}

export type RedriveSelector = { deliveryIds: string[] } | { sourceId: string } | { all: true };

export interface RedrivenDelivery {
  id: string;
  previousAttempts: number;
  previousFinishedAt: string | null;
  sourceType: 'EVENT' | 'CAMPAIGN_RUN';
  sourceId: string;
  batchNo: number;
  /** The event's stored priority override (unparsed); null for campaign runs and events without one. */
  priority: string | null;
}

/**
 * DEAD deliveries back to PENDING (attempts 0); returns what they were, so `restoreDeadDeliveries` can undo it.
 * Deliveries of an erased person (no token any more) stay DEAD: there is nobody to send them to.
 */
export async function redriveDeadDeliveries(db: Database, selector: RedriveSelector): Promise<RedrivenDelivery[]> {
  const [condition, params]: [string, unknown[]] =
    'deliveryIds' in selector
      ? ['id = ANY($1::uuid[])', [selector.deliveryIds]]
      : 'sourceId' in selector
        ? ['"sourceId" = $1', [selector.sourceId]]
        : ['TRUE', []];
  const { rows } = await db.pool.query<RedrivenDelivery>(
    `WITH target AS (
       SELECT id, attempts, "finishedAt" FROM "Delivery" WHERE "isDead" AND ${condition} AND "optInId" IS NOT NULL FOR UPDATE
     ), redriven AS (
       UPDATE "Delivery" d
       -- claimedAt stays: a dead delivery may still hold its token (see holdsToken in the worker's ledger).
       SET status = 'PENDING', attempts = 0, "finishedAt" = NULL, "notBefore" = NULL
       FROM target WHERE d.id = target.id
       RETURNING d.id, target.attempts AS "previousAttempts", target."finishedAt"::text AS "previousFinishedAt",
                 d."sourceType", d."sourceId", d."batchNo", d."pageId",
                 (SELECT e.priority FROM "Event" e WHERE d."sourceType" = 'EVENT' AND e.id = d."sourceId") AS priority
     ), opened AS (${openSourcesSql('SELECT "sourceId", "sourceType", "pageId" FROM redriven')}) -- their sources, open again
     SELECT id, "previousAttempts", "previousFinishedAt", "sourceType", "sourceId", "batchNo", priority FROM redriven`,
    params,
  );
  return rows;
}

/** Undoes a redrive whose dispatch jobs could not be queued (only rows still PENDING). */
export async function restoreDeadDeliveries(db: Database, redriven: readonly RedrivenDelivery[]): Promise<void> {
  await db.pool.query(
    `UPDATE "Delivery" d SET status = 'DEAD', attempts = back.attempts, "finishedAt" = back.finished
     FROM unnest($1::uuid[], $2::int[], $3::timestamp[]) AS back(id, attempts, finished)
     WHERE d.id = back.id AND d.status = 'PENDING'`,
    [redriven.map((row) => row.id), redriven.map((row) => row.previousAttempts), redriven.map((row) => row.previousFinishedAt)],
  );
}

// ---------------------------------------------------------------------------------------------------------
// DeadLetter rows (invalid jobs, poisoned webhook entries): read for a redrive, then stamped `redrivenAt`.

export interface StoredDeadLetter {
  id: string;
  kind: string;
  reason: string;
  /** As stored: may carry opt-in tokens. */
  payload: unknown;
}

/** The DeadLetter rows with these ids (unknown ids are left out). */
export async function findDeadLetterRows(db: Database, ids: readonly string[]): Promise<StoredDeadLetter[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.pool.query<StoredDeadLetter>(`SELECT id::text AS id, kind, reason, payload FROM "DeadLetter" WHERE id = ANY($1::uuid[]) ORDER BY "createdAt", id`, [
    [...ids],
  ]);
  return rows;
}

/** Records that these dead letters were redriven (the API shows `redrivenAt`; retention keeps redriven ones shorter). */
export async function markDeadLettersRedriven(db: Database, ids: readonly string[], at: Date = new Date()): Promise<void> {
  if (ids.length === 0) return;
  await db.pool.query(`UPDATE "DeadLetter" SET "redrivenAt" = $2 WHERE id = ANY($1::uuid[])`, [[...ids], at]);
}
