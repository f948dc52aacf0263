import type { CampaignRunReport, RunCounts } from './campaigns.js';
import type { Database } from './client.js';
import { DELIVERY_STATUSES, type DeliveryStatusName, type EventSummary } from './events.js';
import { FAN_OUT_OVER } from './sources.js';

/*
 * Retention (docs/retention.md): the statements of the `retention` job and of GET /v1/retention.
 *
 * Every purge deletes at most `limit` rows per statement, oldest first where an index allows, and only rows that
 * are final: deliveries that finished (never PENDING or SENDING), events and campaign runs whose final counts
 * are stored and whose deliveries are gone, processed webhook bodies. The caller loops, pauses between batches
 * and stops on shutdown. Cut-offs are computed by Postgres (`now() - days`) on the UTC timestamps stored.
 *
 * Rows are picked by `ctid` in a sub-select and deleted by TID, with the conditions repeated on the DELETE: a
 * row changed in between (a DEAD delivery redriven to PENDING) is re-checked in its new version and kept.
 */

/** One group of a source's deliveries: how many have this status and skip reason. */
export interface DeliveryTallyRow {
  status: string;
  skipReason: string | null;
  count: number;
}

export type RetainedSourceType = 'EVENT' | 'CAMPAIGN_RUN';

const FINAL_DELIVERY_STATUSES = `('SENT', 'FAILED', 'SKIPPED', 'DEAD')`;
const cutoff = (daysParam: string) => `(now() AT TIME ZONE 'UTC') - make_interval(days => ${daysParam}::int)`;

/** The parent table of each source type, and how a delivery's sourceId finds its row. */
const PARENT = {
  EVENT: { table: '"Event"', age: '"receivedAt"', idOf: (sourceId: string) => sourceId, done: FAN_OUT_OVER.EVENT('p') },
  CAMPAIGN_RUN: { table: '"CampaignRun"', age: '"startedAt"', idOf: (sourceId: string) => `${sourceId}::uuid`, done: FAN_OUT_OVER.CAMPAIGN_RUN('p') },
} as const;

async function affected(db: Database, sql: string, params: unknown[]): Promise<number> {
  const result = await db.pool.query(sql, params);
  return result.rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------------------------
// Final counts

/**
 * Freezes the delivery counts of up to `limit` parents (events or campaign runs) older than `days` whose
 * fan-out is over and none of whose deliveries is still PENDING or SENDING: one statement, the counts grouped
 * by status and skip reason into `finalCounts`. Runs before any of their deliveries may be deleted, so a report
 * can always be answered. Returns how many parents were finalized.
 */
export async function storeFinalCounts(db: Database, sourceType: RetainedSourceType, days: number, limit: number): Promise<number> {
  const parent = PARENT[sourceType];
  return affected(
    db,
    `WITH ready AS (
       SELECT p.id FROM ${parent.table} p
       WHERE p.${parent.age} < ${cutoff('$1')} AND ${parent.done} AND p."finalCounts" IS NULL
         AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."sourceId" = p.id::text AND d."sourceType" = $3::"SourceType"
                         AND d.status IN ('PENDING', 'SENDING'))
       LIMIT $2
       FOR UPDATE OF p SKIP LOCKED
     ), grouped AS (
       SELECT d."sourceId", d.status, d."skipReason", count(*)::int AS n FROM "Delivery" d
       WHERE d."sourceType" = $3::"SourceType" AND d."sourceId" IN (SELECT id::text FROM ready)
       GROUP BY 1, 2, 3
     ), tally AS (
       SELECT "sourceId", jsonb_agg(jsonb_build_object('status', status, 'skipReason', "skipReason", 'count', n)) AS counts
       FROM grouped GROUP BY 1
     )
     UPDATE ${parent.table} p SET "finalCounts" = COALESCE(tally.counts, '[]'::jsonb)
     FROM ready LEFT JOIN tally ON tally."sourceId" = ready.id::text
     WHERE p.id = ready.id`,
    [days, limit, sourceType],
  );
}

/** The stored final counts of the given parents that have them (one primary-key read). */
export async function readFinalCounts(db: Database, sourceType: RetainedSourceType, sourceIds: readonly string[]): Promise<Map<string, DeliveryTallyRow[]>> {
  const ids = sourceType === 'CAMPAIGN_RUN' ? sourceIds.filter(isUuid) : [...sourceIds];
  if (ids.length === 0) return new Map();
  const { rows } = await db.pool.query<{ id: string; finalCounts: DeliveryTallyRow[] }>(
    `SELECT id::text AS id, "finalCounts" FROM ${PARENT[sourceType].table} WHERE id = ANY($1::${sourceType === 'CAMPAIGN_RUN' ? 'uuid' : 'text'}[]) AND "finalCounts" IS NOT NULL`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row.finalCounts]));
}

const tallyTotal = (rows: readonly DeliveryTallyRow[]) => rows.reduce((sum, row) => sum + row.count, 0);
const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/**
 * The rule of every report: live counts (a GROUP BY over the source's deliveries) while all of them are still
 * there, the stored final counts once the retention job started deleting them (the stored total is then larger
 * than what is left). A redrive after the counts were stored, before any delete, still shows live.
 */
export const useStoredCounts = (liveTotal: number, stored: readonly DeliveryTallyRow[] | undefined): stored is DeliveryTallyRow[] =>
  stored !== undefined && tallyTotal(stored) > liveTotal;

/** An event summary whose counts come from its stored final counts once its deliveries are (being) deleted. */
export async function withRetainedEventCounts<T extends Pick<EventSummary, 'id' | 'counts'>>(db: Database, summary: T): Promise<T> {
  const stored = (await readFinalCounts(db, 'EVENT', [summary.id])).get(summary.id);
  const liveTotal = Object.values(summary.counts.byStatus).reduce((sum, count) => sum + count, 0);
  if (!useStoredCounts(liveTotal, stored)) return summary;
  const byStatus = Object.fromEntries(DELIVERY_STATUSES.map((status) => [status, 0])) as Record<DeliveryStatusName, number>;
  const bySkipReason: Record<string, number> = {};
  for (const row of stored) {
    byStatus[row.status as DeliveryStatusName] = (byStatus[row.status as DeliveryStatusName] ?? 0) + row.count;
    if (row.skipReason) bySkipReason[row.skipReason] = (bySkipReason[row.skipReason] ?? 0) + row.count;
  }
  return { ...summary, counts: { byStatus, bySkipReason } };
}

/** Campaign run reports (one or a page) whose counts come from stored final counts where their deliveries are (being) deleted. */
export async function withRetainedRunCounts<T extends Pick<CampaignRunReport, 'id' | 'counts'>>(db: Database, reports: T[]): Promise<T[]> {
  const stored = await readFinalCounts(db, 'CAMPAIGN_RUN', reports.map((report) => report.id));
  if (stored.size === 0) return reports;
  return reports.map((report) => {
    const rows = stored.get(report.id);
    if (!useStoredCounts(report.counts.total, rows)) return report;
    const counts: RunCounts = { total: 0, byStatus: {}, skipped: {}, deferred: {}, complete: true };
    for (const row of rows) {
      counts.total += row.count;
      counts.byStatus[row.status] = (counts.byStatus[row.status] ?? 0) + row.count;
      if (row.status === 'SKIPPED' && row.skipReason) counts.skipped[row.skipReason] = (counts.skipped[row.skipReason] ?? 0) + row.count;
    }
    return { ...report, counts };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Purges: each deletes at most `limit` rows and returns how many it deleted.

/**
 * Finished deliveries (SENT, FAILED, SKIPPED, DEAD) written more than `days` ago whose parent has its final counts
 * stored. The ("createdAt") index finds them oldest first: no index of "Delivery" names the status or the finish
 * time (a send's claim and outcome are HOT updates, migration 20261203200000_delivery_writes_hot), and a delivery
 * finishes within its send (hours at most), so its creation time is its age.
 */
export async function purgeDeliveries(db: Database, days: number, limit: number): Promise<number> {
  const finalAndOld = (alias: string) => `${alias}"createdAt" < ${cutoff('$1')} AND ${alias}status IN ${FINAL_DELIVERY_STATUSES}`;
  return affected(
    db,
    // The parent check is a LATERAL … LIMIT 1 so it stays one primary-key probe per candidate row: written as
    // EXISTS, the planner may hash the whole parent table (every finalized event) on each batch.
    `DELETE FROM "Delivery" WHERE ctid = ANY(ARRAY(
       SELECT d.ctid FROM "Delivery" d
       CROSS JOIN LATERAL (
         SELECT 1 FROM "Event" p WHERE d."sourceType" = 'EVENT' AND p.id = d."sourceId" AND p."finalCounts" IS NOT NULL
         UNION ALL
         SELECT 1 FROM "CampaignRun" p WHERE d."sourceType" = 'CAMPAIGN_RUN' AND p.id = d."sourceId"::uuid AND p."finalCounts" IS NOT NULL
         LIMIT 1
       ) finalized
       WHERE ${finalAndOld('d.')}
       LIMIT $2))
     AND ${finalAndOld('')}`,
    [days, limit],
  );
}

/** Parents (events, campaign runs) older than `days` whose final counts are stored and of which no delivery is left. */
export async function purgeFinishedParents(db: Database, sourceType: RetainedSourceType, days: number, limit: number): Promise<number> {
  const parent = PARENT[sourceType];
  return affected(
    db,
    `DELETE FROM ${parent.table} WHERE ctid = ANY(ARRAY(
       SELECT p.ctid FROM ${parent.table} p
       WHERE p.${parent.age} < ${cutoff('$1')} AND p."finalCounts" IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."sourceId" = p.id::text AND d."sourceType" = $3::"SourceType")
       LIMIT $2))
     AND "finalCounts" IS NOT NULL`,
    [days, limit, sourceType],
  );
}

/** Processed webhook bodies received more than `days` ago (an unprocessed one stays until it is applied). */
export async function purgeWebhookReceipts(db: Database, days: number, limit: number): Promise<number> {
  const condition = `"processedAt" IS NOT NULL AND "receivedAt" < ${cutoff('$1')}`;
  return affected(
    db,
    `DELETE FROM "WebhookReceipt" WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM "WebhookReceipt" WHERE ${condition} ORDER BY "receivedAt" LIMIT $2)) AND ${condition}`,
    [days, limit],
  );
}

/** Dead letters already redriven, and any older than `days`. */
export async function purgeDeadLetters(db: Database, days: number, limit: number): Promise<number> {
  const condition = `("redrivenAt" IS NOT NULL OR "createdAt" < ${cutoff('$1')})`;
  return affected(
    db,
    `DELETE FROM "DeadLetter" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "DeadLetter" WHERE ${condition} LIMIT $2)) AND ${condition}`,
    [days, limit],
  );
}

/** Opt-in requests sent more than `days` ago (config keeps `days` above the 7-day same-title rule). */
export async function purgeOptInRequests(db: Database, days: number, limit: number): Promise<number> {
  const condition = `"sentAt" < ${cutoff('$1')}`;
  return affected(
    db,
    `DELETE FROM "OptInRequest" WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM "OptInRequest" WHERE ${condition} ORDER BY "sentAt" LIMIT $2)) AND ${condition}`,
    [days, limit],
  );
}

// ---------------------------------------------------------------------------------------------------------
// Status

/** What the last retention run did for one kind of row. */
export interface RetentionRunResult {
  startedAt: Date;
  finishedAt: Date;
  deleted: number;
  /** Parents whose final counts were stored (events, campaign runs); 0 for the other kinds. */
  finalized: number;
  /** False when the run stopped before it reached the end (shutdown, time budget, error). */
  caughtUp: boolean;
  error: string | null;
}

export async function recordRetentionRun(db: Database, kind: string, result: RetentionRunResult): Promise<void> {
  await db.pool.query(
    `INSERT INTO "RetentionState" (kind, "lastStartedAt", "lastFinishedAt", deleted, finalized, "caughtUp", error)
     VALUES ($1, $2::timestamptz AT TIME ZONE 'UTC', $3::timestamptz AT TIME ZONE 'UTC', $4, $5, $6, $7)
     ON CONFLICT (kind) DO UPDATE SET "lastStartedAt" = EXCLUDED."lastStartedAt", "lastFinishedAt" = EXCLUDED."lastFinishedAt",
       deleted = EXCLUDED.deleted, finalized = EXCLUDED.finalized, "caughtUp" = EXCLUDED."caughtUp", error = EXCLUDED.error`,
    [kind, result.startedAt.toISOString(), result.finishedAt.toISOString(), result.deleted, result.finalized, result.caughtUp, result.error],
  );
}

/** The table behind each retained kind, and how its oldest row is found cheaply (an index, never a full scan). */
const TABLES = {
  deliveries: {
    table: 'Delivery',
    // Oldest delivery kept: one probe of the ("createdAt") index.
    oldest: `SELECT min("createdAt") FROM "Delivery"`,
  },
  // Event's time index is a BRIN (cheap for ingest, no ordered reads): one probe of (pageId, receivedAt) per Page.
  events: {
    table: 'Event',
    oldest: `SELECT min(m) FROM "Page" p CROSS JOIN LATERAL (SELECT min("receivedAt") AS m FROM "Event" e WHERE e."pageId" = p.id) x`,
  },
  campaignRuns: { table: 'CampaignRun', oldest: `SELECT min("startedAt") FROM "CampaignRun"` },
  webhookReceipts: { table: 'WebhookReceipt', oldest: `SELECT min("receivedAt") FROM "WebhookReceipt"` },
  deadLetters: { table: 'DeadLetter', oldest: `SELECT min("createdAt") FROM "DeadLetter"` },
  optInRequests: { table: 'OptInRequest', oldest: `SELECT min("sentAt") FROM "OptInRequest"` },
} as const;

export type RetainedKind = keyof typeof TABLES;

export interface RetainedTableStatus {
  kind: RetainedKind;
  table: string;
  /** The planner's estimate (pg_class.reltuples, as of the last ANALYZE); null before the first. */
  estimatedRows: number | null;
  /** Table, indexes and TOAST (pg_total_relation_size). */
  totalBytes: number;
  /** The oldest row still kept; null when the table holds none. */
  oldestAt: Date | null;
  lastRun: RetentionRunResult | null;
}

/** Size, estimated rows, oldest row and last retention run of every retained table. */
export async function readRetentionStatus(db: Database): Promise<RetainedTableStatus[]> {
  const kinds = Object.keys(TABLES) as RetainedKind[];
  const tables = kinds.map((kind) => TABLES[kind].table);
  const [sizes, runs, ...oldest] = await Promise.all([
    db.pool.query<{ table: string; reltuples: number; bytes: string }>(
      `SELECT c.relname AS table, c.reltuples::float8 AS reltuples, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace`,
      [tables],
    ),
    db.pool.query<{ kind: string; startedAt: Date; finishedAt: Date; deleted: number; finalized: number; caughtUp: boolean; error: string | null }>(
      `SELECT kind, "lastStartedAt" AT TIME ZONE 'UTC' AS "startedAt", "lastFinishedAt" AT TIME ZONE 'UTC' AS "finishedAt",
              deleted, finalized, "caughtUp", error
       FROM "RetentionState"`,
    ),
    ...kinds.map((kind) => db.pool.query<{ oldest: Date | null }>(`SELECT (${TABLES[kind].oldest}) AT TIME ZONE 'UTC' AS oldest`)),
  ]);
  const sizeOf = new Map(sizes.rows.map((row) => [row.table, row]));
  const runOf = new Map(runs.rows.map(({ kind, ...run }) => [kind, run]));
  return kinds.map((kind, index) => {
    const size = sizeOf.get(TABLES[kind].table);
    return {
      kind,
      table: TABLES[kind].table,
      estimatedRows: size && size.reltuples >= 0 ? Math.round(size.reltuples) : null,
      totalBytes: size ? Number(size.bytes) : 0,
      oldestAt: oldest[index]!.rows[0]?.oldest ?? null,
      lastRun: runOf.get(kind) ?? null,
    };
  });
}
