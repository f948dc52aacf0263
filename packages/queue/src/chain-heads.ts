import type { Queue } from 'bullmq';
import { DISPATCH_JOB, dispatchJobId, type DispatchJob } from './catalog.js';
import { batchPriorityClass, bullmqPriority, type PriorityClass } from './jobs/deliveries.js';

/** A source of deliveries as the dispatch release sees it (see the worker's pipeline/release.ts). */
export interface DispatchSource {
  sourceType: DispatchJob['sourceType'];
  sourceId: string;
  /** The event's priority override; null for campaign runs and events without one. */
  priority: PriorityClass | null;
}

/** A chain head: a batch with due rows whose chain predecessor has none (`chainHeads` of @renotify/db). */
export interface ChainHead {
  batchNo: number;
  kind: 'ONE_TIME' | 'RECURRING';
}

/** Queues one batch under its fixed id, with the BullMQ priority of its class (an existing job makes it a no-op). */
export async function queueDispatchBatch(deliveries: Queue, source: DispatchSource, batch: ChainHead): Promise<void> {
  const job: DispatchJob = { sourceType: source.sourceType, sourceId: source.sourceId, batchNo: batch.batchNo };
  const priority = bullmqPriority(batchPriorityClass(source.sourceType, source.priority, batch.kind));
  await deliveries.add(DISPATCH_JOB, job, { jobId: dispatchJobId(job), priority });
}

/**
 * Gives each chain head of `source` a live dispatch job under its fixed id (`dispatchJobId`): adds the missing
 * ones, re-adds completed ones and retries those that failed for good (a kept failed job would turn a plain add
 * into a no-op). Live jobs are left alone. The heads come from the caller (computed in Postgres with the
 * source's window), so at most W batches of the source are ever queued. Returns how many were queued.
 */
export async function queueChainHeads(deliveries: Queue, source: DispatchSource, heads: readonly ChainHead[]): Promise<number> {
  let queued = 0;
  for (const head of heads) {
    const job: DispatchJob = { sourceType: source.sourceType, sourceId: source.sourceId, batchNo: head.batchNo };
    const jobId = dispatchJobId(job);
    const state = await deliveries.getJobState(jobId);
    if (state === 'failed') {
      await (await deliveries.getJob(jobId))?.retry('failed');
      queued++;
    } else if (state === 'unknown' || state === 'completed') {
      if (state === 'completed') await deliveries.remove(jobId);
      await queueDispatchBatch(deliveries, source, head);
      queued++;
    }
  }
  return queued;
}
