import type { Database } from './client.js';
import type { TokenKind } from './fanout.js';
import type { SourceType } from './generated/prisma/enums.js';
import { FAN_OUT_OVER } from './sources.js';
import type { Frequency, OptInKind, OptInStatus } from '@renotify/domain';

/*
 * The dispatch side of "Delivery": load a batch, claim it with its tokens, record outcomes, stop a source, and
 * the progressive-release queries over due rows. Every statement is set-based: one round trip per batch.
 */

/**
 * How the claim and the outcome statements reach their rows: one primary-key probe per id, in a LATERAL subquery
 * the planner cannot flatten (FOR UPDATE, or OFFSET 0), so the plan is the same whatever the table's size and
 * statistics. Left to choose, the planner joined the ids with a sequential scan of "Delivery" (a small table by
 * its last statistics), or read the partial index of waiting rows, or rescanned the id list once per row
 * (nested loops on a misestimated side): each costs more than the whole send once the table is large.
 * The status is compared as text so that no status index can serve the probe either.
 */
const ROW_STATUS_IS = (alias: string) => `${alias}.status::text = `;

/** A PENDING delivery of one batch with the token and person it goes to. */
export interface BatchRow {
  id: string;
  optInId: string;
  pageId: string;
  attempts: number;
  claimedAt: Date | null;
  ambiguousAttempt: boolean;
  notBefore: Date | null;
  /** Found SENDING from an abandoned claim and turned back to PENDING by this load (see loadPendingBatch). */
  abandoned: boolean;
  kind: OptInKind;
  tokenStatus: OptInStatus;
  topic: string;
  token: string;
  frequency: Frequency | null;
  tokenTimezone: string | null;
  expiresAt: Date | null;
  tokenCreatedAt: Date;
  lastSentAt: Date | null;
  nextEligibleAt: Date | null;
  subscriberId: string;
  subscriberTimezone: string | null;
  unavailableUntil: Date | null;
}

/**
 * The batch's PENDING rows with their tokens and people. Rows of the batch still SENDING from a claim made before
 * `abandonedBefore` belong to a worker that died mid-send (a row is SENDING only while its request is in flight,
 * bounded by the Graph timeout): the same statement turns them back to PENDING, marked ambiguous (see
 * ABANDONED_CLAIM_RESET), and returns them with the rest, flagged `abandoned`. The main SELECT reads the statement's
 * snapshot, where those rows are still SENDING, so each row comes once.
 */
export async function loadPendingBatch(db: Database, sourceId: string, batchNo: number, abandonedBefore: Date): Promise<BatchRow[]> {
  const { rows } = await db.pool.query<BatchRow>(
    `WITH reset AS (
       UPDATE "Delivery" SET ${ABANDONED_CLAIM_RESET}
       WHERE "sourceId" = $1 AND "batchNo" = $2 AND status = 'SENDING' AND "claimedAt" < $3::timestamp
       RETURNING id, status, "optInId", "pageId", attempts, "claimedAt", "ambiguousAttempt", "notBefore"
     ), due AS (
       SELECT id, "optInId", "pageId", attempts, "claimedAt", "ambiguousAttempt", "notBefore", false AS abandoned
       FROM "Delivery" WHERE "sourceId" = $1 AND "batchNo" = $2 AND status = 'PENDING'
       UNION ALL
       SELECT id, "optInId", "pageId", attempts, "claimedAt", "ambiguousAttempt", "notBefore", true FROM reset WHERE status = 'PENDING'
     )
     SELECT d.id, d."optInId", d."pageId", d.attempts, d."claimedAt", d."ambiguousAttempt", d."notBefore", d.abandoned,
            o.kind, o.status AS "tokenStatus", o.topic, o.token, o.frequency, o.timezone AS "tokenTimezone",
            o."expiresAt", o."createdAt" AS "tokenCreatedAt", o."lastSentAt", o."nextEligibleAt", o."subscriberId",
            s.timezone AS "subscriberTimezone", s."unavailableUntil"
     FROM due d
     JOIN "OptIn" o ON o.id = d."optInId"
     JOIN "Subscriber" s ON s.id = o."subscriberId"`,
    [sourceId, batchNo, abandonedBefore],
  );
  return rows;
}

/**
 * The token is held by this delivery: an earlier attempt of it claimed the token (the token's last send
 * is this delivery's claim). A retry then goes ahead without claiming the token again.
 */
export function holdsToken(row: Pick<BatchRow, 'lastSentAt' | 'claimedAt'>): boolean {
  return row.lastSentAt !== null && row.claimedAt !== null && row.lastSentAt.getTime() === row.claimedAt.getTime();
}

export interface ClaimRequest {
  row: BatchRow;
  /** For recurring tokens: the next eligible time this send starts. */
  nextEligibleAt: Date | null;
}

export interface ClaimResult {
  claimed: BatchRow[];
  /** Deliveries whose token another delivery took first (skipped, with the reason). */
  lost: Array<{ row: BatchRow; reason: 'TOKEN_USED' | 'FREQUENCY_WINDOW' }>;
}

/**
 * One statement (so one transaction and one round trip): the deliveries still PENDING are locked, their tokens
 * claimed under guards (one-time ACTIVE → USED; recurring lastSentAt/nextEligibleAt advanced; each only if the
 * token's lastSentAt is still what we read, so two claims of one token cannot both win), and each delivery
 * goes SENDING when its token claim won, else SKIPPED with the reason (another delivery took the token first).
 * A retry re-claims the token it holds the same way (its claim time moves to now). Every claimed delivery
 * gets `claimedAt = now = OptIn.lastSentAt` (see holdsToken).
 *
 * `FOR UPDATE` on the deliveries serialises two claimers of the same rows: the second re-checks
 * `status = 'PENDING'` after the first commits and gets nothing, so it never touches the tokens.
 * `answered`: outcomes of earlier sends written by the same statement (as recordOutcomes would, from SENDING).
 */
export async function claim(db: Database, requests: ClaimRequest[], now: Date, answered?: AnsweredOutcomes): Promise<ClaimResult> {
  if (requests.length === 0) {
    if (answered) await recordOutcomes(db, answered.outcomes, answered.at, 'SENDING');
    return { claimed: [], lost: [] };
  }
  // Outcomes of requests already answered ride along (their own CTE, on SENDING rows; the claim takes PENDING ones,
  // so the two never touch the same row): one statement and one commit instead of two.
  const recorded = answered?.outcomes.length ? answered : null;
  const recordedCte = recorded ? `recorded AS (${outcomeUpdateSql(8)}), ` : '';
  // Two deliveries of one batch never share a token (UNIQUE(optInId, sourceId)), so token ids are distinct here.
  const { rows } = await db.pool.query<{ id: string; won: boolean }>(
    `WITH ${recordedCte}c AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamp[], $4::timestamp[], $5::boolean[], $7::text[])
         AS c(delivery, token, next, previous, held, kind)
     ), pending AS (
       SELECT x.id, c.token, c.next, c.previous, c.held, c.kind
       FROM c CROSS JOIN LATERAL (
         SELECT d.id FROM "Delivery" d
         WHERE d.id = c.delivery AND ${ROW_STATUS_IS('d')}'PENDING' AND d."optInId" = c.token -- not erased meanwhile
         FOR UPDATE
       ) x
     ), won AS (
       UPDATE "OptIn" o
       SET status = CASE WHEN o.kind = 'ONE_TIME' THEN 'USED'::"OptInStatus" ELSE o.status END,
           "usedAt" = CASE WHEN o.kind = 'ONE_TIME' THEN $6::timestamp ELSE o."usedAt" END,
           "lastSentAt" = $6::timestamp,
           "nextEligibleAt" = p.next
       FROM pending p
       WHERE o.id = p.token AND o."lastSentAt" IS NOT DISTINCT FROM p.previous
         AND (o.status = 'ACTIVE' OR (p.held AND o.status = 'USED'))
       RETURNING o.id
     ), decided AS (
       SELECT p.id, p.kind, p.token IN (SELECT id FROM won) AS won FROM pending p
     ), claimed AS (
       UPDATE "Delivery" d
       SET status = CASE WHEN w.won THEN 'SENDING'::"DeliveryStatus" ELSE 'SKIPPED'::"DeliveryStatus" END,
           attempts = d.attempts + 1, "claimedAt" = $6::timestamp,
           "skipReason" = CASE WHEN w.won THEN d."skipReason" WHEN w.kind = 'ONE_TIME' THEN 'TOKEN_USED' ELSE 'FREQUENCY_WINDOW' END,
           "finishedAt" = CASE WHEN w.won THEN d."finishedAt" ELSE $6::timestamp END
       FROM decided w
       WHERE d.id = w.id
       RETURNING d.id, w.won
     )
     SELECT id, won FROM claimed`,
    [
      requests.map((r) => r.row.id),
      requests.map((r) => r.row.optInId),
      requests.map((r) => r.nextEligibleAt),
      requests.map((r) => r.row.lastSentAt),
      requests.map((r) => holdsToken(r.row)),
      now,
      requests.map((r) => r.row.kind),
      ...(recorded ? outcomeParams(recorded.outcomes, recorded.at, 'SENDING') : []),
    ],
  );
  const won = new Map(rows.map((row) => [row.id, row.won]));
  const claimed: BatchRow[] = [];
  const lost: ClaimResult['lost'] = [];
  for (const { row } of requests) {
    const result = won.get(row.id);
    if (result === true) claimed.push(row);
    else if (result === false) lost.push({ row, reason: row.kind === 'ONE_TIME' ? 'TOKEN_USED' : 'FREQUENCY_WINDOW' });
  }
  return { claimed, lost };
}

export type FinalStatus = 'SENT' | 'FAILED' | 'SKIPPED' | 'DEAD';

export interface Outcome {
  deliveryId: string;
  status: FinalStatus | 'PENDING';
  skipReason?: string | null;
  messageId?: string | null;
  errorCode?: number | null;
  errorSubcode?: number | null;
  error?: string | null;
  /** For PENDING: not before this time. */
  notBefore?: Date | null;
  ambiguous?: boolean;
}

/**
 * Every outcome of a batch in one UPDATE; only rows still SENDING (or PENDING for pre-send skips) change.
 * A row whose person was erased while its send was in flight (optInId already NULL) gets its status, but never
 * Meta's message id or error text back: the erase removed those (packages/db subscribers.ts eraseSubscriber).
 */
export async function recordOutcomes(db: Database, outcomes: Outcome[], now: Date, fromStatus: 'SENDING' | 'PENDING'): Promise<void> {
  if (outcomes.length === 0) return;
  await db.pool.query(outcomeUpdateSql(1), outcomeParams(outcomes, now, fromStatus));
}

/** Outcomes of sends already answered, written by the next claim's statement (see `claim`). */
export interface AnsweredOutcomes {
  outcomes: Outcome[];
  /** When they were recorded (finishedAt of the final ones). */
  at: Date;
}

/** The outcome UPDATE with its 11 parameters numbered from `first` (so a claim can carry it after its own). */
function outcomeUpdateSql(first: number): string {
  const p = (n: number) => `$${first + n - 1}`;
  return `UPDATE "Delivery" d
     SET status = v.status::"DeliveryStatus", "skipReason" = v.skip,
         "messageId" = CASE WHEN d."optInId" IS NULL THEN NULL ELSE v.mid END,
         "lastErrorCode" = COALESCE(v.code, d."lastErrorCode"), "lastErrorSubcode" = COALESCE(v.sub, d."lastErrorSubcode"),
         "lastError" = CASE WHEN d."optInId" IS NULL THEN NULL ELSE COALESCE(v.err, d."lastError") END, "notBefore" = v.nb,
         "ambiguousAttempt" = d."ambiguousAttempt" OR v.amb,
         "finishedAt" = CASE WHEN v.status = 'PENDING' THEN NULL ELSE ${p(10)}::timestamp END
     FROM (
       SELECT v.* FROM unnest(${p(1)}::uuid[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::int[], ${p(6)}::int[], ${p(7)}::text[], ${p(8)}::timestamp[], ${p(9)}::boolean[])
              AS v(id, status, skip, mid, code, sub, err, nb, amb)
       CROSS JOIN LATERAL (SELECT 1 FROM "Delivery" x WHERE x.id = v.id AND ${ROW_STATUS_IS('x')}${p(11)} OFFSET 0) still
     ) v
     WHERE d.id = v.id AND ${ROW_STATUS_IS('d')}${p(11)}`;
}

function outcomeParams(outcomes: Outcome[], now: Date, fromStatus: 'SENDING' | 'PENDING'): unknown[] {
  return [
    outcomes.map((o) => o.deliveryId),
    outcomes.map((o) => o.status),
    outcomes.map((o) => o.skipReason ?? null),
    outcomes.map((o) => o.messageId ?? null),
    outcomes.map((o) => o.errorCode ?? null),
    outcomes.map((o) => o.errorSubcode ?? null),
    outcomes.map((o) => o.error ?? null),
    outcomes.map((o) => o.notBefore ?? null),
    outcomes.map((o) => o.ambiguous ?? false),
    now,
    fromStatus,
  ];
}

export type TokenChange = { optInId: string; change: 'INVALID' | 'STOPPED' | 'EXPIRED' | 'RELEASE'; claimedAt?: Date | null };

/**
 * Token side effects of outcomes. RELEASE gives a one-time token back (Meta refused the send for a reason
 * that did not consume it), only while it is still held by the same claim.
 */
export async function applyTokenChanges(db: Database, changes: TokenChange[], now: Date): Promise<void> {
  const byChange = (change: TokenChange['change']) => changes.filter((c) => c.change === change);
  for (const status of ['INVALID', 'STOPPED', 'EXPIRED'] as const) {
    const ids = byChange(status).map((c) => c.optInId);
    if (ids.length) {
      await db.pool.query(
        `UPDATE "OptIn" SET status = $2::"OptInStatus", "statusAt" = GREATEST("statusAt", $3::timestamp)
         WHERE id = ANY($1::uuid[]) AND status IN ('ACTIVE', 'USED')`,
        [ids, status, now],
      );
    }
  }
  const releases = byChange('RELEASE').filter((c) => c.claimedAt);
  if (releases.length) {
    await db.pool.query(
      `UPDATE "OptIn" o SET status = 'ACTIVE', "usedAt" = NULL, "lastSentAt" = NULL
       FROM unnest($1::uuid[], $2::timestamp[]) AS c(id, claimed)
       WHERE o.id = c.id AND o.kind = 'ONE_TIME' AND o.status = 'USED' AND o."lastSentAt" = c.claimed`,
      [releases.map((c) => c.optInId), releases.map((c) => c.claimedAt)],
    );
  }
}

export async function markSubscribersUnavailable(db: Database, subscriberIds: string[], until: Date): Promise<void> {
  if (subscriberIds.length === 0) return;
  await db.pool.query(`UPDATE "Subscriber" SET "unavailableUntil" = $2 WHERE id = ANY($1::uuid[])`, [subscriberIds, until]);
}

/**
 * Stops a source: every delivery of it still PENDING goes DEAD with the reason (redrivable). Rows another
 * job holds (SENDING) finish on their own; their tokens are never touched here.
 */
export async function haltSource(db: Database, sourceId: string, reason: string, now: Date): Promise<number> {
  const { rowCount } = await db.pool.query(
    `UPDATE "Delivery" SET status = 'DEAD', "lastError" = $2, "finishedAt" = $3, "notBefore" = NULL
     WHERE "sourceId" = $1 AND status = 'PENDING'`,
    [sourceId, reason, now],
  );
  return rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------------------------
// Progressive release (apps/worker queues/deliveries/release.ts): which batches of a source are due

/**
 * "Due" rows of a batch: waiting to be sent now, or being sent. Deferred rows (notBefore later) are not.
 * Read through ("sourceId", "batchNo") and checked on the row: no index names the status (a claim and an outcome
 * are HOT updates, migration 20261203200000_delivery_writes_hot), so a probe of a finished batch reads its rows.
 */
const DUE = (alias: string, nowParam: string) =>
  `(${alias}.status IN ('PENDING', 'SENDING') AND (${alias}.status = 'SENDING' OR ${alias}."notBefore" IS NULL OR ${alias}."notBefore" <= ${nowParam}))`;

/** True when batch `batchNo` of the source still has rows due at `now`. */
export async function batchHasDueRows(db: Database, sourceId: string, batchNo: number, now: Date): Promise<boolean> {
  const { rows } = await db.pool.query<{ busy: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM "Delivery" p WHERE p."sourceId" = $1 AND p."batchNo" = $2 AND ${DUE('p', '$3')}) AS busy`,
    [sourceId, batchNo, now],
  );
  return rows[0]?.busy ?? false;
}

/**
 * The next batch after `batchNo` in its chain (step `window`) that has something due, with its token kind.
 * With `closeAs` (the batch's pass ended with nothing left to wait for), the end of the chain may be the end of the
 * source: the same statement closes the source if it is finished (closeSourceIfFinished's rule; it runs after the
 * pass's writes committed, as that rule needs), one statement instead of two per chain end. A batch found due has
 * open rows, so the source could not close anyway: the `found` test only spares the open-rows probe.
 */
export async function nextDueBatchInChain(
  db: Database,
  sourceId: string,
  batchNo: number,
  window: number,
  now: Date,
  closeAs?: SourceType,
): Promise<{ batchNo: number; kind: TokenKind } | null> {
  // The chain's batch numbers are probed one by one, nearest first (almost always the first is due), and the probing
  // STOPS at the first hit: a recursive CTE, one step per batch number, whose next step runs only while nothing was
  // found. Scanning the source's rows in batch order instead read every row of the W − 1 batches in between (the
  // other chains); and `generate_series(...) CROSS JOIN LATERAL (...) ORDER BY g.b LIMIT 1` had Postgres sort
  // every probe's result, so it probed EVERY later batch of the chain (each one found, as fan-out runs ahead):
  // a cost per call growing with the send, 0.4 ms of Postgres per delivery in a 1M-token send against 0.001 at
  // 100k (bench:scale with BENCH_PG_STATEMENTS=1).
  const { rows } = await db.pool.query<{ batchNo: number; kind: TokenKind }>(
    `WITH RECURSIVE probe(b, kind) AS (
       SELECT $2::int, NULL::"OptInKind"
       UNION ALL
       SELECT p.b + $3::int, (
         SELECT o.kind FROM "Delivery" d JOIN "OptIn" o ON o.id = d."optInId"
         WHERE d."sourceId" = $1 AND d."batchNo" = p.b + $3::int AND ${DUE('d', '$4')} LIMIT 1
       )
       FROM probe p
       WHERE p.kind IS NULL AND p.b + $3::int <= (SELECT max(m."batchNo") FROM "Delivery" m WHERE m."sourceId" = $1)
     ), found AS (SELECT b AS "batchNo", kind FROM probe WHERE kind IS NOT NULL)${
       closeAs ? `, closed AS (${closeFinishedSourceSql(closeAs, 'NOT EXISTS (SELECT 1 FROM found)')})` : ''
     }
     SELECT "batchNo", kind FROM found`,
    [sourceId, batchNo, window, now],
  );
  return rows[0] ?? null;
}

/**
 * The batches of a source that should have a job now: every due batch whose chain predecessor has nothing
 * due. Used when a source is replayed and by the sweeper after a crash or a Redis loss.
 */
export async function chainHeads(db: Database, sourceId: string, window: number, now: Date): Promise<Array<{ batchNo: number; kind: TokenKind }>> {
  // Batch-level first (one pass over the source's rows), then the chain rule on batch numbers: a per-row
  // anti-join would probe the predecessor batch's rows once per row.
  const { rows } = await db.pool.query<{ batchNo: number; kind: TokenKind }>(
    `WITH due AS (
       SELECT DISTINCT d."batchNo" FROM "Delivery" d WHERE d."sourceId" = $1 AND d."batchNo" >= 0 AND ${DUE('d', '$3')}
     ), heads AS (
       SELECT h."batchNo" FROM due h WHERE h."batchNo" < $2 OR NOT EXISTS (SELECT 1 FROM due p WHERE p."batchNo" = h."batchNo" - $2)
     )
     SELECT h."batchNo", (SELECT o.kind FROM "Delivery" x JOIN "OptIn" o ON o.id = x."optInId"
                          WHERE x."sourceId" = $1 AND x."batchNo" = h."batchNo" LIMIT 1) AS kind
     FROM heads h ORDER BY 1`,
    [sourceId, window, now],
  );
  return rows;
}


// ---------------------------------------------------------------------------------------------------------
// Limits and recovery

/**
 * Per subscriber: SENT deliveries since `since` across topics, and the oldest of them (the per-person cap).
 * Reads the people's tokens, then each token's deliveries ("Delivery_optInId_sourceId_key"): the cost follows the people
 * of the batch, never the number of sends in the window.
 */
export async function capUsageSince(db: Database, subscriberIds: string[], since: Date): Promise<Map<string, { count: number; oldest: Date | null }>> {
  const { rows } = await db.pool.query<{ subscriberId: string; n: number; oldest: Date | null }>(
    `SELECT o."subscriberId", count(*)::int AS n, min(d."finishedAt") AS oldest
     FROM "OptIn" o JOIN "Delivery" d ON d."optInId" = o.id
     WHERE o."subscriberId" = ANY($1::uuid[]) AND d.status = 'SENT' AND d."finishedAt" >= $2 GROUP BY 1`,
    [subscriberIds, since],
  );
  return new Map(rows.map((row) => [row.subscriberId, { count: row.n, oldest: row.oldest }]));
}

/**
 * How a delivery abandoned mid-send (SENDING from a claim older than STALE_SENDING_MS: its worker died; the HTTP
 * call may or may not have reached Meta) goes back: PENDING, marked ambiguous (see the worker's `interpret`). One
 * whose person was erased meanwhile (optInId NULL) has nobody to send to: it ends SKIPPED (STOPPED), like the
 * erase's waiting rows, instead of waiting forever for a batch load that can no longer find its token.
 */
const ABANDONED_CLAIM_RESET = `"ambiguousAttempt" = true, "notBefore" = NULL,
       status = CASE WHEN "optInId" IS NULL THEN 'SKIPPED'::"DeliveryStatus" ELSE 'PENDING'::"DeliveryStatus" END,
       "skipReason" = CASE WHEN "optInId" IS NULL THEN 'STOPPED' ELSE "skipReason" END,
       "finishedAt" = CASE WHEN "optInId" IS NULL THEN now() AT TIME ZONE 'UTC' ELSE "finishedAt" END`;

/**
 * The source's deliveries abandoned mid-send (claimed before `claimedBefore`, still SENDING) go back to PENDING,
 * marked ambiguous (ABANDONED_CLAIM_RESET). For a source that stopped moving (the sweeper); a live source's batches
 * do the same for their own rows when their next pass loads them (loadPendingBatch). Reads the source's rows.
 */
export async function resetAbandonedClaims(db: Database, sourceId: string, claimedBefore: Date): Promise<number> {
  const { rowCount } = await db.pool.query(
    `UPDATE "Delivery" SET ${ABANDONED_CLAIM_RESET}
     WHERE "sourceId" = $1 AND status = 'SENDING' AND "claimedAt" < $2::timestamp`,
    [sourceId, claimedBefore],
  );
  return rowCount ?? 0;
}

/**
 * SQL: opens the sources of `rows` (a SELECT of "sourceId", "sourceType", "pageId"): a DispatchSource row each, with
 * a new checkAt even when the row exists, so a sweeper's settle that read the previous one no longer matches (see
 * settleSource). The one way fan-out and a redrive open a source, each in the statement that writes its rows'
 * predecessor or its rows.
 */
export const openSourcesSql = (rows: string) => `
  INSERT INTO "DispatchSource" ("sourceId", "sourceType", "pageId", "checkAt")
  SELECT DISTINCT ON (r."sourceId") r."sourceId", r."sourceType", r."pageId", clock_timestamp() AT TIME ZONE 'UTC' FROM (${rows}) r
  ON CONFLICT ("sourceId") DO UPDATE SET "checkAt" = EXCLUDED."checkAt"`;

/** An open source (a DispatchSource row) the sweeper should look at. */
export interface SourceToCheck {
  sourceType: SourceType;
  sourceId: string;
  /** The event's stored priority override, unparsed (null for campaign runs). */
  priority: string | null;
  /** The row's checkAt as read (text, exact): settleSource changes the row only if nobody changed it since. */
  checkAt: string;
}

/**
 * Open sources (see DispatchSource) whose check time is before `checkBefore`, in source id order after `after` (a
 * cursor, so a sweep that looks at `limit` sources at a time reaches every one). Whether such a source is still
 * moving (a slow, rate-limited send is open for long) is the caller's question. A small table: sources being sent.
 */
export async function findSourcesToCheck(db: Database, checkBefore: Date, after: string | null, limit: number): Promise<SourceToCheck[]> {
  const { rows } = await db.pool.query<SourceToCheck>(
    `SELECT s."sourceType", s."sourceId", e.priority, s."checkAt"::text AS "checkAt"
     FROM "DispatchSource" s
     LEFT JOIN "Event" e ON s."sourceType" = 'EVENT' AND e.id = s."sourceId"
     WHERE s."checkAt" < $1::timestamp AND s."sourceId" > $2
     ORDER BY s."sourceId"
     LIMIT $3`,
    [checkBefore, after ?? '', limit],
  );
  return rows;
}

/**
 * Closes a finished source (removes its DispatchSource row): its fan-out is over and none of its deliveries is
 * PENDING or SENDING. Called by the two parties that can finish a source, after their own writes committed: the
 * fan-out once its parent is marked fanned out, and a batch's job at the end of its chain. Whichever commits last
 * sees the other's work in this statement's snapshot, so a finished source is closed without waiting for the
 * sweeper (which only settles sources that stopped moving, a bounded number per sweep). The open-rows probe reads
 * the source's rows from its last batch backwards: open rows, if any, are in its last batches. True when closed.
 */
export async function closeSourceIfFinished(db: Database, sourceType: SourceType, sourceId: string): Promise<boolean> {
  const { rowCount } = await db.pool.query(closeFinishedSourceSql(sourceType), [sourceId]);
  return (rowCount ?? 0) > 0;
}

/**
 * SQL: the DELETE of closeSourceIfFinished, for the source whose id is `$1`; `gate`, when given, is tested first.
 * The open-rows probe is a scalar subquery, not `NOT EXISTS`: Postgres drops ORDER BY and LIMIT inside EXISTS, and
 * then planned it as a sequential scan of "Delivery" until the first open row, which over 10M rows of other sources
 * cost 20 ms a call (bench:scale's history runs, pg_stat_statements). As written it walks the source's index entries
 * from its last batch backwards, where open rows are.
 */
function closeFinishedSourceSql(sourceType: SourceType, gate = 'true'): string {
  const parent =
    sourceType === 'EVENT'
      ? `SELECT 1 FROM "Event" p WHERE p.id = $1 AND ${FAN_OUT_OVER.EVENT('p')}`
      : `SELECT 1 FROM "CampaignRun" p WHERE p.id = $1::uuid AND ${FAN_OUT_OVER.CAMPAIGN_RUN('p')}`;
  return `DELETE FROM "DispatchSource" s
     WHERE s."sourceId" = $1 AND ${gate} AND EXISTS (${parent})
       AND (SELECT 1 FROM "Delivery" d WHERE d."sourceId" = $1 AND d.status IN ('PENDING', 'SENDING') ORDER BY d."batchNo" DESC LIMIT 1) IS NULL`;
}

/**
 * After the sweeper looked at a source: removes it from DispatchSource when none of its deliveries is PENDING or
 * SENDING any more, else sets its next check to when its earliest open row is due (now, for rows due or in
 * flight; the earliest `notBefore` when all wait). Only if the row still holds the `checkAt` the sweeper read:
 * fan-out and a redrive give it a new value when they open the source again, and their rows may not be visible
 * to this statement yet, so a changed row is left alone. Reads the source's rows.
 */
export async function settleSource(db: Database, source: Pick<SourceToCheck, 'sourceId' | 'checkAt'>, now: Date): Promise<'closed' | 'open' | 'changed'> {
  const { rows } = await db.pool.query<{ outcome: 'closed' | 'open' }>(
    `WITH open AS (
       SELECT count(*) AS n,
              min(CASE WHEN status = 'PENDING' AND "notBefore" > $3::timestamp THEN "notBefore" ELSE $3::timestamp END) AS due
       FROM "Delivery" WHERE "sourceId" = $1 AND status IN ('PENDING', 'SENDING')
     ), closed AS (
       DELETE FROM "DispatchSource" s USING open
       WHERE s."sourceId" = $1 AND s."checkAt" = $2::timestamp AND open.n = 0
       RETURNING 'closed'::text AS outcome
     ), rescheduled AS (
       UPDATE "DispatchSource" s SET "checkAt" = open.due FROM open
       WHERE s."sourceId" = $1 AND s."checkAt" = $2::timestamp AND open.n > 0
       RETURNING 'open'::text AS outcome
     )
     SELECT outcome FROM closed UNION ALL SELECT outcome FROM rescheduled`,
    [source.sourceId, source.checkAt, now],
  );
  return rows[0]?.outcome ?? 'changed';
}
