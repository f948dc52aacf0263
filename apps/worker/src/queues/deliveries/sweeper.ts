import { findSourcesToCheck, findUnfannedEvents, resetAbandonedClaims, settleSource, type SourceToCheck } from '@renotify/db';
import { eventJobId, FANOUT_JOB, priorityClassSchema, SourceProgress, type FanoutJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';
import { ensureChainHeads } from './release.js';

/** The sweep's job name and scheduler id are in the job catalog. */
export { SWEEP_JOB } from '@renotify/queue';
const SWEEP_LIMIT = 1_000;
/** Open sources read per sweep (one small table); the sweep goes on from there next time. */
const SWEEP_CANDIDATES = 1_000;
/** Stalled sources repaired per sweep (each costs a few queries over its rows and a few Redis calls). */
const SWEEP_SOURCES = 100;
/** A source that has not moved for this long is forgotten by the progress record (it finished, or is stalled). */
const PROGRESS_MEMORY_MS = 24 * 3600_000;

export interface SweepReport {
  staleSending: number;
  requeuedBatches: number;
  unfannedEvents: number;
  agedJobs: number;
}

/** A lower-class batch waiting longer than this is served as high class: no class starves behind others. */
export const AGING_MS = 30_000;
/** The tail of the prioritized set looked at per sweep (lowest classes sit there). */
const AGING_SCAN = 200;

/**
 * Priority aging. BullMQ serves priorities strictly, so while higher-class batches keep every worker slot busy
 * (many Pages sending one-time notifications at once), campaign batches would wait forever. A batch that has
 * waited AGING_MS since it last became ready is moved to priority 1, behind the batches already there.
 */
async function ageWaitingJobs(deps: WorkerDeps, now: Date): Promise<number> {
  const queue = deps.queues.deliveries;
  const count = await queue.getPrioritizedCount();
  if (count === 0) return 0;
  const tail = await queue.getPrioritized(Math.max(0, count - AGING_SCAN), count - 1);
  let aged = 0;
  for (const job of tail) {
    if (!job || (job.priority ?? 0) <= 1) continue;
    const readySince = Math.max(job.processedOn ?? 0, job.timestamp + (job.delay ?? 0));
    if (now.getTime() - readySince < AGING_MS) continue;
    await job.changePriority({ priority: 1 }).catch(() => undefined); // gone meanwhile: nothing to age
    aged++;
  }
  return aged;
}

/** Where the last sweep of this process stopped reading sources (source ids are visited in order, then again). */
let sweepCursor: string | null = null;

/**
 * Open sources due for a check since before `staleBefore` AND with no progress since then: a live send (even a
 * slow, rate-limited one) queues or finishes a batch well within that time. Only a source that stopped moving may
 * have lost a job or left claims behind, or is finished and waits to be settled. Candidates come from
 * DispatchSource (a row per open source), progress from the SourceProgress record in Redis (no scan of the
 * deliveries).
 */
async function stalledSources(deps: WorkerDeps, staleBefore: Date): Promise<SourceToCheck[]> {
  const candidates = await findSourcesToCheck(deps.db, staleBefore, sweepCursor, SWEEP_CANDIDATES);
  sweepCursor = candidates.length < SWEEP_CANDIDATES ? null : candidates.at(-1)!.sourceId;
  const progress = new SourceProgress(deps.redis, deps.config.QUEUE_PREFIX);
  await progress.forgetBefore(staleBefore.getTime() - PROGRESS_MEMORY_MS);
  const moving = await progress.movedSince(
    candidates.map((source) => source.sourceId),
    staleBefore.getTime(),
  );
  return candidates.filter((source) => !moving.has(source.sourceId)).slice(0, SWEEP_SOURCES);
}

/**
 * Recovers what a crash or a Redis loss can leave behind, so nothing waits forever. For each open source that
 * stopped moving:
 * - deliveries still SENDING after STALE_SENDING_MS: a row is SENDING only while its request is in flight
 *   (bounded by the Graph timeout), so one this old belongs to a worker that died mid-send; the HTTP call may or
 *   may not have reached Meta. They go back to PENDING marked ambiguous and are retried (see `interpret`). A
 *   moving source's batches do this for their own rows at their next pass (loadPendingBatch).
 * - every chain head gets its job back if it is missing (lost with Redis, or failed for good); live jobs are
 *   left alone (fixed job ids).
 * The source is settled first: closed when nothing of it is open (a finished send, the usual case: one read of its
 * rows and done), else checked again when its next row is due and repaired as above.
 * Also: events accepted but never fanned out (Redis was down after the insert) are re-queued, and lower-class
 * batches that waited too long are served as high class (priority aging).
 * Every step is idempotent; concurrent sweeps only cost no-op adds.
 */
export async function sweep(deps: WorkerDeps, now = new Date()): Promise<SweepReport> {
  const staleBefore = new Date(now.getTime() - deps.config.STALE_SENDING_MS);
  const sources = await stalledSources(deps, staleBefore);
  let staleSending = 0;
  let requeuedBatches = 0;
  for (const source of sources) {
    if ((await settleSource(deps.db, source, now)) === 'closed') continue;
    const priority = priorityClassSchema.safeParse(source.priority);
    staleSending += await resetAbandonedClaims(deps.db, source.sourceId, staleBefore);
    requeuedBatches += await ensureChainHeads(deps, { sourceType: source.sourceType, sourceId: source.sourceId, priority: priority.success ? priority.data : null }, now);
  }
  const events = await findUnfannedEvents(deps.db, new Date(now.getTime() - 30_000), staleBefore, SWEEP_LIMIT);
  if (events.length) {
    await deps.queues.events.addBulk(events.map((id) => ({ name: FANOUT_JOB, data: { eventId: id } satisfies FanoutJob, opts: { jobId: eventJobId(id) } })));
  }
  const agedJobs = await ageWaitingJobs(deps, now);
  const report = { staleSending, requeuedBatches, unfannedEvents: events.length, agedJobs };
  if (report.staleSending || report.requeuedBatches || report.unfannedEvents) deps.logger.warn(report, 'sweeper re-queued work left behind');
  else if (agedJobs) deps.logger.info({ agedJobs }, 'lower-class batches waited too long: served as high class now');
  return report;
}
