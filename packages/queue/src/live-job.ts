import type { JobsOptions, Queue } from 'bullmq';

/**
 * Makes sure a job with this fixed id is live (waiting, delayed, active…): adds it when there is none, re-adds it
 * when the kept one completed, retries it when it failed for good (a kept failed job would turn a plain add into
 * a no-op), and leaves a live one alone. True when it queued something.
 *
 * `stillNeeded`, when given, is asked after the job's state was read and before anything is queued: a caller that
 * decided from an earlier read of its own state (Postgres) re-checks it there. The job may have finished and been
 * removed in between (it writes its work's outcome before it completes), and re-adding it would run finished
 * work again and put a second job in a place meant for one (a chain of the progressive release).
 */
export async function ensureLiveJob(
  queue: Queue,
  name: string,
  data: unknown,
  opts: JobsOptions & { jobId: string },
  stillNeeded: () => Promise<boolean> = async () => true,
): Promise<boolean> {
  const state = await queue.getJobState(opts.jobId);
  if ((state === 'failed' || state === 'unknown' || state === 'completed') && !(await stillNeeded())) return false;
  if (state === 'failed') {
    await (await queue.getJob(opts.jobId))?.retry('failed');
    return true;
  }
  if (state !== 'unknown' && state !== 'completed') return false;
  if (state === 'completed') await queue.remove(opts.jobId);
  await queue.add(name, data, opts);
  return true;
}
