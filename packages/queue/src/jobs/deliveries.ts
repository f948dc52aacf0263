import { createHash } from 'node:crypto';
import { z } from 'zod';

/** `deliveries` queue, job name `dispatch`: send every due PENDING delivery of one fan-out batch. */
export const DISPATCH_JOB = 'dispatch';

export const dispatchJobSchema = z.object({
  sourceType: z.enum(['EVENT', 'CAMPAIGN_RUN']),
  sourceId: z.string().min(1),
  batchNo: z.number().int().nonnegative(),
});
export type DispatchJob = z.infer<typeof dispatchJobSchema>;

/**
 * Deterministic id so a batch is queued once while its job exists; `suffix` distinguishes a deferred
 * re-run (retry time) from the first run. BullMQ ids must not contain ':'.
 */
export function dispatchJobId(job: DispatchJob, suffix?: string | number): string {
  const source = createHash('sha1').update(`${job.sourceType}/${job.sourceId}`).digest('hex').slice(0, 20);
  return `d_${source}_${job.batchNo}${suffix === undefined ? '' : `_${suffix}`}`;
}
