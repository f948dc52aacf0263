import type { JobsOptions, Queue } from 'bullmq';

/**
 * Makes sure a job with this fixed id is live (waiting, delayed, active…): adds it when there is none, re-adds it
 * when the kept one completed, retries it when it failed for good (a kept failed job would turn a plain add into
 * a no-op), and leaves a live one alone. True when it queued something.
 */
export async function ensureLiveJob(queue: Queue, name: string, data: unknown, opts: JobsOptions & { jobId: string }): Promise<boolean> {
  const state = await queue.getJobState(opts.jobId);
  if (state === 'failed') {
    await (await queue.getJob(opts.jobId))?.retry('failed');
    return true;
  }
  if (state !== 'unknown' && state !== 'completed') return false;
  if (state === 'completed') await queue.remove(opts.jobId);
  await queue.add(name, data, opts);
  return true;
}
