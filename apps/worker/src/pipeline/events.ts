import type { Job } from 'bullmq';
import { z } from 'zod';
import { acceptEvents, findUnknownPageIds } from '@renotify/db';
import { matchingTopics, parseTopic } from '@renotify/domain';
import { DISPATCH_JOB, dispatchJobId, eventInputSchema, QueueName, type DispatchJob } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import type { ProcessorModule } from '../processors/index.js';
import { fanOut, pendingBatches } from './fanout.js';

const fanoutJobSchema = z.object({ eventId: z.string().min(1) });
const publishJobSchema = z.object({ event: eventInputSchema });

async function enqueueDispatch(deps: WorkerDeps, job: DispatchJob) {
  await deps.queues.deliveries.add(DISPATCH_JOB, job, { jobId: dispatchJobId(job) });
}

/**
 * Fans one stored event out to its matching tokens. Idempotent: a replay writes no new deliveries, and
 * re-queues the batches that still have unsent rows (a crash between writing a batch and queueing it).
 */
export async function fanOutEvent(deps: WorkerDeps, eventId: string): Promise<{ matched: number; batches: number } | null> {
  const { rows } = await deps.db.pool.query<{ pageId: string; topic: string; status: string }>(
    'SELECT "pageId", topic, status FROM "Event" WHERE id = $1',
    [eventId],
  );
  const event = rows[0];
  if (!event) return null;
  const replay = event.status !== 'ACCEPTED';
  if (!replay) await deps.db.pool.query(`UPDATE "Event" SET status = 'FANNING_OUT' WHERE id = $1 AND status = 'ACCEPTED'`, [eventId]);
  const result = await fanOut(
    deps.db,
    { sourceType: 'EVENT', sourceId: eventId, pageId: event.pageId, topics: matchingTopics(parseTopic(event.topic)) },
    deps.config.FANOUT_BATCH_SIZE,
    (job) => enqueueDispatch(deps, job),
  );
  if (result.stopped) deps.metrics.deliveries.inc({ status: 'SKIPPED', skip_reason: 'STOPPED' }, result.stopped);
  if (replay) {
    for (const batchNo of await pendingBatches(deps.db, eventId)) await enqueueDispatch(deps, { sourceType: 'EVENT', sourceId: eventId, batchNo });
  }
  await deps.db.pool.query(
    `UPDATE "Event" SET status = 'FANNED_OUT', "matchedCount" = "matchedCount" + $2, "batchCount" = GREATEST("batchCount", $3),
            "fannedOutAt" = now() AT TIME ZONE 'UTC' WHERE id = $1`,
    [eventId, result.matched + result.stopped, result.batches],
  );
  return { matched: result.matched, batches: result.batches };
}

/** The `events` queue: `fanout` jobs from the ingest (event already stored), `publish` jobs from the producer SDK. */
export const eventsModule = (): ProcessorModule => ({
  queue: QueueName.events,
  create: (deps) => async (job: Job) => {
    let eventId: string;
    if (job.name === 'publish') {
      const parsed = publishJobSchema.safeParse(job.data);
      if (!parsed.success) return deadLetter(deps, job, parsed.error.message);
      // An unknown Page would fail the insert on its foreign key on every retry: dead-letter it at once.
      if ((await findUnknownPageIds(deps.db, [parsed.data.event.pageId])).size) return deadLetter(deps, job, `unknown Page ${parsed.data.event.pageId}`);
      await acceptEvents(deps.db, [parsed.data.event]);
      eventId = parsed.data.event.id;
    } else {
      const parsed = fanoutJobSchema.safeParse(job.data);
      if (!parsed.success) return deadLetter(deps, job, parsed.error.message);
      eventId = parsed.data.eventId;
    }
    const result = await fanOutEvent(deps, eventId);
    deps.logger.info({ jobId: job.id, eventId, ...result }, result ? 'event fanned out' : 'event not found');
    return result;
  },
});

async function deadLetter(deps: WorkerDeps, job: Job, reason: string) {
  deps.logger.warn({ jobId: job.id, queue: job.queueName, reason }, 'invalid job dead-lettered');
  await deps.db.prisma.deadLetter.create({ data: { kind: 'job', reason: `invalid ${job.queueName}/${job.name} job: ${reason}`, payload: { jobId: job.id ?? null, name: job.name, data: job.data } } });
  return { invalid: true };
}
