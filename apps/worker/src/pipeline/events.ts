import type { Job } from 'bullmq';
import { acceptEvents, fanOut, findUnknownPageIds, finishEventFanOut, startEventFanOut } from '@renotify/db';
import { matchingTopics, parseTopic } from '@renotify/domain';
import { FANOUT_JOB, priorityClassSchema, PUBLISH_JOB, QueueName } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import { deadLetter, defineProcessor, type ProcessorModule } from '../processors/define.js';
import { ensureChainHeads, releaseWrittenBatch, type ReleaseSource } from './release.js';

/**
 * Fans one stored event out to its matching tokens, one-time tokens first. Batches are released
 * progressively (see release.ts). Idempotent: a replay writes no new deliveries, and makes sure every chain
 * of the event's batches has a job (a crash between writing a batch and queueing it).
 */
export async function fanOutEvent(deps: WorkerDeps, eventId: string): Promise<{ matched: number; batches: number } | null> {
  const event = await startEventFanOut(deps.db, eventId);
  if (!event) return null;
  const replay = event.status !== 'ACCEPTED';
  const parsedPriority = priorityClassSchema.safeParse(event.priority);
  const release: ReleaseSource = { sourceType: 'EVENT', sourceId: eventId, priority: parsedPriority.success ? parsedPriority.data : null };
  const result = await fanOut(
    deps.db,
    { sourceType: 'EVENT', sourceId: eventId, pageId: event.pageId, topics: matchingTopics(parseTopic(event.topic)), kinds: ['ONE_TIME', 'RECURRING'] },
    deps.config.FANOUT_BATCH_SIZE,
    (job, kind) => releaseWrittenBatch(deps, release, job.batchNo, kind).then(() => undefined),
  );
  if (result.stopped) deps.metrics.deliveries.inc({ status: 'SKIPPED', skip_reason: 'STOPPED' }, result.stopped);
  if (replay) await ensureChainHeads(deps, release);
  await finishEventFanOut(deps.db, eventId, result.matched + result.stopped, result.batches);
  return { matched: result.matched, batches: result.batches };
}

/** The `events` queue: `fanout` jobs from the ingest (event already stored), `publish` jobs from the producer SDK. */
export const eventsModule = (): ProcessorModule => ({
  queue: QueueName.events,
  create: (deps) => {
    const fanOutAndLog = async (job: Job, eventId: string) => {
      const result = await fanOutEvent(deps, eventId);
      deps.logger.info({ jobId: job.id, eventId, ...result }, result ? 'event fanned out' : 'event not found');
      return result;
    };
    return defineProcessor(QueueName.events, deps, {
      [FANOUT_JOB]: (data, job) => fanOutAndLog(job, data.eventId),
      [PUBLISH_JOB]: async ({ event }, job) => {
        // An unknown Page would fail the insert on its foreign key on every retry: dead-letter it at once.
        if ((await findUnknownPageIds(deps.db, [event.pageId])).size) return deadLetter(deps, job, `unknown Page ${event.pageId}`);
        await acceptEvents(deps.db, [event]);
        return fanOutAndLog(job, event.id);
      },
    });
  },
});
