import { DISPATCH_JOB, dispatchJobId, eventJobId, type DispatchJob } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';

export const SWEEP_JOB = 'sweep';
const SWEEP_LIMIT = 1_000;

export interface SweepReport {
  staleSending: number;
  orphanedBatches: number;
  unfannedEvents: number;
}

/**
 * Recovers what a crash can leave behind, so nothing waits forever:
 * - deliveries still SENDING after STALE_SENDING_MS: their worker died mid-send, so the HTTP call may or may
 *   not have reached Meta. They go back to PENDING marked ambiguous and are retried (see `interpret`).
 * - PENDING batches with no job (their job failed for good, or was lost with Redis): re-queued.
 * - events accepted but never fanned out (Redis was down after the insert): re-queued.
 * Every step is idempotent; concurrent sweeps only cost duplicate no-op jobs.
 */
export async function sweep(deps: WorkerDeps, now = new Date()): Promise<SweepReport> {
  const staleBefore = new Date(now.getTime() - deps.config.STALE_SENDING_MS);
  const { rows: stale } = await deps.db.pool.query<DispatchJob>(
    `UPDATE "Delivery" SET status = 'PENDING', "ambiguousAttempt" = true, "notBefore" = NULL
     WHERE status = 'SENDING' AND "claimedAt" < $1
     RETURNING "sourceType", "sourceId", "batchNo"`,
    [staleBefore],
  );
  const { rows: orphaned } = await deps.db.pool.query<DispatchJob>(
    `SELECT DISTINCT "sourceType", "sourceId", "batchNo" FROM "Delivery"
     WHERE status = 'PENDING' AND COALESCE("notBefore", "createdAt") < $1 LIMIT ${SWEEP_LIMIT}`,
    [staleBefore],
  );
  const batches = new Map<string, DispatchJob>();
  for (const job of [...stale, ...orphaned]) batches.set(dispatchJobId(job), job);
  if (batches.size) {
    await deps.queues.deliveries.addBulk(
      [...batches.values()].map((job) => ({ name: DISPATCH_JOB, data: job, opts: { jobId: dispatchJobId(job, `sweep${now.getTime()}`) } })),
    );
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
  const report = { staleSending: stale.length, orphanedBatches: batches.size, unfannedEvents: events.length };
  if (report.staleSending || report.orphanedBatches || report.unfannedEvents) deps.logger.warn(report, 'sweeper re-queued work left behind');
  return report;
}
