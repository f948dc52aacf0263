import { createHash } from 'node:crypto';
import { z } from 'zod';

/** `deliveries` queue, job name `dispatch`: send every due PENDING delivery of one fan-out batch. */
export const DISPATCH_JOB = 'dispatch';

export const dispatchJobSchema = z.object({
  sourceType: z.enum(['EVENT', 'CAMPAIGN_RUN']),
  sourceId: z.string().min(1),
  batchNo: z.number().int().nonnegative(),
  /**
   * Sends this job reserved from its Page's bucket before it moved itself to delayed; usable once it wakes.
   * Set by the job itself, never by producers.
   */
  reservedPermits: z.number().int().positive().optional(),
});
export type DispatchJob = z.infer<typeof dispatchJobSchema>;

/**
 * Deterministic id: a batch has at most one job at a time, whoever queues it (fan-out, the batch before it,
 * the sweeper, a redrive). The job moves itself to delayed while it waits (rate limit, retry backoff, quiet
 * hours) and keeps its id. BullMQ ids must not contain ':'.
 */
export function dispatchJobId(job: Pick<DispatchJob, 'sourceType' | 'sourceId' | 'batchNo'>): string {
  const source = createHash('sha1').update(`${job.sourceType}/${job.sourceId}`).digest('hex').slice(0, 20);
  return `d_${source}_${job.batchNo}`;
}

/**
 * Priority classes of sends (README "Delivery semantics"): a person who asked to be told ("notify me when
 * it is back") waits for a one-time notification; recurring updates can wait a little; campaign runs are bulk.
 * An event may override its class with `priority`.
 */
export const PriorityClass = { high: 'high', normal: 'normal', low: 'low' } as const;
export type PriorityClass = (typeof PriorityClass)[keyof typeof PriorityClass];
export const priorityClassSchema = z.enum(['high', 'normal', 'low']);

/** BullMQ priority per class (1 is served first). */
const BULLMQ_PRIORITY: Record<PriorityClass, number> = { high: 1, normal: 2, low: 3 };

/** The class of one batch: the event's override, else by the kind of token the batch holds; campaigns are low. */
export function batchPriorityClass(sourceType: DispatchJob['sourceType'], eventPriority: PriorityClass | null, kind: 'ONE_TIME' | 'RECURRING'): PriorityClass {
  if (sourceType === 'CAMPAIGN_RUN') return 'low';
  if (eventPriority) return eventPriority;
  return kind === 'ONE_TIME' ? 'high' : 'normal';
}

export function bullmqPriority(priorityClass: PriorityClass): number {
  return BULLMQ_PRIORITY[priorityClass];
}

/**
 * How many batches of one source may be in the queue or in flight at once (its window). Batches are
 * released progressively: batch b + window is queued when batch b is done for now, so no source ever holds
 * the queue with its whole fan-out. Within one Page the windows also share the Page's rate: each in-flight
 * batch holds one reservation in the Page's bucket, so a high-class source gets `base` shares for a low-class
 * source's `base / 4` (never zero: no class starves).
 */
export function sourceWindow(sourceType: DispatchJob['sourceType'], eventPriority: PriorityClass | null, base: number): number {
  const sourceClass = sourceType === 'CAMPAIGN_RUN' ? 'low' : (eventPriority ?? 'high');
  const divisor = sourceClass === 'high' ? 1 : sourceClass === 'normal' ? 2 : 4;
  return Math.max(1, Math.floor(base / divisor));
}
