import { eventJobId, priorityClassSchema } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import { ensureChainHeads, type ReleaseSource } from './release.js';

export const SWEEP_JOB = 'sweep';
const SWEEP_LIMIT = 1_000;
/** Sources looked at per sweep; the rest wait for the next sweep (each costs one query and a few Redis calls). */
const SWEEP_SOURCES = 100;

export interface SweepReport {
  staleSending: number;
  requeuedBatches: number;
  unfannedEvents: number;
}

/**
 * Recovers what a crash or a Redis loss can leave behind, so nothing waits forever:
 * - deliveries still SENDING after STALE_SENDING_MS: a row is SENDING only while its request is in flight
 *   (bounded by the Graph timeout), so one this old belongs to a worker that died mid-send; the HTTP call
 *   may or may not have reached Meta. They go back to PENDING marked ambiguous and are retried (see `interpret`).
 * - sources with due work older than that: every chain head of theirs gets its job back if it is missing
 *   (lost with Redis, or failed for good); live jobs are left alone (fixed job ids).
 * - events accepted but never fanned out (Redis was down after the insert): re-queued.
 * Every step is idempotent; concurrent sweeps only cost no-op adds.
 */
export async function sweep(deps: WorkerDeps, now = new Date()): Promise<SweepReport> {
  const staleBefore = new Date(now.getTime() - deps.config.STALE_SENDING_MS);
  const { rowCount: staleSending } = await deps.db.pool.query(
    `UPDATE "Delivery" SET status = 'PENDING', "ambiguousAttempt" = true, "notBefore" = NULL
     WHERE status = 'SENDING' AND "claimedAt" < $1`,
    [staleBefore],
  );
  const { rows: sources } = await deps.db.pool.query<{ sourceType: ReleaseSource['sourceType']; sourceId: string; priority: string | null }>(
    `SELECT s."sourceType", s."sourceId", e.priority FROM (
       SELECT DISTINCT "sourceType", "sourceId" FROM "Delivery"
       WHERE status = 'PENDING' AND COALESCE("notBefore", "createdAt") < $1 LIMIT ${SWEEP_SOURCES}
     ) s LEFT JOIN "Event" e ON s."sourceType" = 'EVENT' AND e.id = s."sourceId"`,
    [staleBefore],
  );
  let requeuedBatches = 0;
  for (const source of sources) {
    const priority = priorityClassSchema.safeParse(source.priority);
    requeuedBatches += await ensureChainHeads(deps, { sourceType: source.sourceType, sourceId: source.sourceId, priority: priority.success ? priority.data : null }, now);
  }
  const { rows: events } = await deps.db.pool.query<{ id: string }>(
    `SELECT id FROM "Event"
     WHERE (status = 'ACCEPTED' AND "receivedAt" < $1) OR (status = 'FANNING_OUT' AND "receivedAt" < $2)
     LIMIT ${SWEEP_LIMIT}`,
    [new Date(now.getTime() - 30_000), staleBefore],
  );
  if (events.length) {
    await deps.queues.events.addBulk(events.map(({ id }) => ({ name: 'fanout', data: { eventId: id }, opts: { jobId: eventJobId(id) } })));
  }
  const report = { staleSending: staleSending ?? 0, requeuedBatches, unfannedEvents: events.length };
  if (report.staleSending || report.requeuedBatches || report.unfannedEvents) deps.logger.warn(report, 'sweeper re-queued work left behind');
  return report;
}
