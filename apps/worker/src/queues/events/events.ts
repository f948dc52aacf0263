import type { Job } from 'bullmq';
import { acceptEvents, findUnknownPageIds, finishEventFanOut, startEventFanOut } from '@renotify/db';
import { matchingTopics, parseTopic } from '@renotify/domain';
import { FANOUT_JOB, fanoutEventIds, priorityClassSchema, PUBLISH_JOB, QueueName, type FanoutJob } from '@renotify/queue';
import type { WorkerDeps } from '../../deps.js';
import { deadLetter, defineProcessor, type ProcessorModule } from '../define.js';
import { fanOutAndRelease } from '../deliveries/release.js';

/**
 * Fans one stored event out to its matching tokens, one-time tokens first. Batches are released
 * progressively (see release.ts). Idempotent: a replay writes no new deliveries, and makes sure every chain
 * of the event's batches has a job (a crash between writing a batch and queueing it).
 */
export async function fanOutEvent(
  deps: WorkerDeps,
  eventId: string,
  { skipFannedOut = false }: { skipFannedOut?: boolean } = {},
): Promise<{ matched: number; batches: number; alreadyFannedOut?: true } | null> {
  const event = await startEventFanOut(deps.db, eventId);
  if (!event) return null;
  // FANNED_OUT is written after every batch was released: nothing to repair, and a replay would re-read every token.
  if (skipFannedOut && event.status === 'FANNED_OUT') return { matched: 0, batches: 0, alreadyFannedOut: true };
  const replay = event.status !== 'ACCEPTED';
  const parsedPriority = priorityClassSchema.safeParse(event.priority);
  const priority = parsedPriority.success ? parsedPriority.data : null;
  const source = { sourceType: 'EVENT', sourceId: eventId, pageId: event.pageId, topics: matchingTopics(parseTopic(event.topic)), kinds: ['ONE_TIME', 'RECURRING'] } as const;
  const result = await fanOutAndRelease(deps, source, priority, replay);
  await finishEventFanOut(deps.db, eventId, result.matched + result.stopped, result.batches);
  return { matched: result.matched, batches: result.batches };
}

/** Events of one fanout job fanned out at once: a job of 1,000 ids must not wait for them one by one. */
const EVENTS_AT_ONCE_PER_JOB = 4;

/**
 * Fans out every event of a fanout job, a few at a time; one event's failure does not stop the others. When
 * some fail, the job keeps only their ids before it fails, so its retry does not redo the others (a replay is
 * harmless, but a large event's replay re-reads all its tokens).
 */
export async function fanOutEventsOfJob(job: Job, eventIds: readonly string[], fanOutOne: (eventId: string) => Promise<unknown>): Promise<{ events: number }> {
  const failed: string[] = [];
  let firstError: unknown;
  let next = 0;
  const lane = async () => {
    while (next < eventIds.length) {
      const eventId = eventIds[next++] as string;
      try {
        await fanOutOne(eventId);
      } catch (error) {
        failed.push(eventId);
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(EVENTS_AT_ONCE_PER_JOB, eventIds.length) }, lane));
  if (failed.length === 0) return { events: eventIds.length };
  if (failed.length < eventIds.length) {
    // Best effort: if Redis refuses, the retry redoes every event, which fan-out's idempotence allows.
    await job.updateData({ eventIds: failed } satisfies FanoutJob).catch(() => undefined);
  }
  throw new Error(`fan-out failed for ${failed.length} of ${eventIds.length} event(s): ${(firstError as Error)?.message ?? String(firstError)}`, { cause: firstError });
}

/**
 * The `events` queue: `fanout` jobs from the ingest (events already stored; one job carries every id of an
 * intake flush, older releases and the sweeper queue one id per job), `publish` jobs from the producer SDK.
 */
export const eventsModule = (): ProcessorModule => ({
  queue: QueueName.events,
  create: (deps) => {
    const fanOutAndLog = async (job: Job, eventId: string, options?: { skipFannedOut?: boolean }) => {
      const result = await fanOutEvent(deps, eventId, options);
      deps.logger.info({ jobId: job.id, eventId, ...result }, result ? 'event fanned out' : 'event not found');
      return result;
    };
    return defineProcessor(QueueName.events, deps, {
      [FANOUT_JOB]: (data, job) => {
        const eventIds = fanoutEventIds(data);
        // An id of a multi-id job may be a producer's retry of an event a job before this one already fanned out.
        return eventIds.length === 1
          ? fanOutAndLog(job, eventIds[0] as string)
          : fanOutEventsOfJob(job, eventIds, (eventId) => fanOutAndLog(job, eventId, { skipFannedOut: true }));
      },
      [PUBLISH_JOB]: async ({ event }, job) => {
        // An unknown Page would fail the insert on its foreign key on every retry: dead-letter it at once.
        if ((await findUnknownPageIds(deps.db, [event.pageId])).size) return deadLetter(deps, job, `unknown Page ${event.pageId}`);
        await acceptEvents(deps.db, [event]);
        return fanOutAndLog(job, event.id);
      },
    });
  },
});
