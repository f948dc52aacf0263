import type { Database } from './client.js';
import { closeSourceIfFinished } from './deliveries.js';
import { EFFECTIVE_ZONE_SQL } from './fanout.js';

/*
 * The execution side of "CampaignRun": SCHEDULED → FANNING_OUT → FANNED_OUT (or CANCELLED). Creating runs and
 * reading them for the API live in campaigns.ts.
 */

export interface RunToExecute {
  campaignId: string;
  status: string;
  zone: string;
  occurrenceAt: Date;
}

export async function findRunToExecute(db: Database, runId: string): Promise<RunToExecute | null> {
  const { rows } = await db.pool.query<RunToExecute>('SELECT "campaignId", status, zone, "occurrenceAt" FROM "CampaignRun" WHERE id = $1::uuid', [runId]);
  return rows[0] ?? null;
}

/** A run whose campaign is no longer ACTIVE is never sent; only a run not yet started can be cancelled. */
export async function cancelScheduledRun(db: Database, runId: string): Promise<void> {
  await db.pool.query(`UPDATE "CampaignRun" SET status = 'CANCELLED', "finishedAt" = now() WHERE id = $1::uuid AND status = 'SCHEDULED'`, [runId]);
}

/** Marks the run FANNING_OUT and freezes its rendered message (the first rendering wins over replays). */
export async function startRunFanOut(db: Database, runId: string, message: unknown): Promise<void> {
  await db.pool.query(
    `UPDATE "CampaignRun" SET status = 'FANNING_OUT', message = COALESCE(message, $2::jsonb) WHERE id = $1::uuid AND status IN ('SCHEDULED', 'FANNING_OUT')`,
    [runId, JSON.stringify(message)],
  );
}

/** Like finishEventFanOut: the run's counts, then its source closed if every batch was sent meanwhile. */
export async function finishRunFanOut(db: Database, runId: string, recorded: number, batches: number): Promise<void> {
  await db.pool.query(
    `UPDATE "CampaignRun" SET status = 'FANNED_OUT', "matchedCount" = "matchedCount" + $2, "batchCount" = GREATEST("batchCount", $3),
            "finishedAt" = now() WHERE id = $1::uuid`,
    [runId, recorded, batches],
  );
  await closeSourceIfFinished(db, 'CAMPAIGN_RUN', runId);
}

/** Runs of ACTIVE campaigns still SCHEDULED or FANNING_OUT though due (and started) before `before`. */
export async function findStalledRuns(db: Database, before: Date): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    `SELECT r.id FROM "CampaignRun" r JOIN "Campaign" c ON c.id = r."campaignId"
     WHERE r.status IN ('SCHEDULED', 'FANNING_OUT') AND c.status = 'ACTIVE' AND r."occurrenceAt" < $1 AND r."startedAt" < $1
     ORDER BY r."occurrenceAt" LIMIT 1000`,
    [before],
  );
  return rows.map((row) => row.id);
}

/** Effective zones of the topic's recurring tokens (active, and stopped ones so their skips are reported). */
export async function recurringTokenZones(db: Database, pageId: string, topic: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ zone: string }>(
    `SELECT DISTINCT ${EFFECTIVE_ZONE_SQL} AS zone FROM "OptIn" o
     JOIN "Subscriber" s ON s.id = o."subscriberId" JOIN "Page" p ON p.id = o."pageId"
     WHERE o."pageId" = $1 AND o.topic = $2 AND o.kind = 'RECURRING' AND o.status IN ('ACTIVE', 'STOPPED')`,
    [pageId, topic],
  );
  return rows.map((row) => row.zone);
}
