import type { Queue } from 'bullmq';
import { DISPATCH_JOB, dispatchJobId, type DispatchJob } from './catalog.js';
import { batchPriorityClass, bullmqPriority, type PriorityClass } from './jobs/deliveries.js';
import { ensureLiveJob } from './live-job.js';

/** A source of deliveries as the dispatch release sees it (see the worker's queues/deliveries/release.ts). */
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

/** The dispatch job of one batch: its data, fixed id and the BullMQ priority of its class. */
function dispatchJobOf(source: DispatchSource, batch: ChainHead) {
  const job: DispatchJob = { sourceType: source.sourceType, sourceId: source.sourceId, batchNo: batch.batchNo };
  return { job, opts: { jobId: dispatchJobId(job), priority: bullmqPriority(batchPriorityClass(source.sourceType, source.priority, batch.kind)) } };
}

/** Queues one batch under its fixed id, with the BullMQ priority of its class (an existing job makes it a no-op). */
export async function queueDispatchBatch(deliveries: Queue, source: DispatchSource, batch: ChainHead): Promise<void> {
  const { job, opts } = dispatchJobOf(source, batch);
  await deliveries.add(DISPATCH_JOB, job, opts);
}

/**
 * Gives each chain head of `source` a live dispatch job under its fixed id (`dispatchJobId`; see ensureLiveJob:
 * missing or completed ones are added, failed ones retried, live ones left alone). The heads come from the caller
 * (computed in Postgres with the source's window), so at most W batches of the source are ever queued. Returns
 * how many were queued. `stillDue` re-reads a head whose job is gone, after that was seen in Redis: the heads were
 * computed before, and the batch's job may have finished its rows and completed (removed, its successor queued)
 * in between; re-adding it then would give its chain two jobs.
 */
export async function queueChainHeads(
  deliveries: Queue,
  source: DispatchSource,
  heads: readonly ChainHead[],
  stillDue: (head: ChainHead) => Promise<boolean>,
): Promise<number> {
  let queued = 0;
  for (const head of heads) {
    const { job, opts } = dispatchJobOf(source, head);
    if (await ensureLiveJob(deliveries, DISPATCH_JOB, job, opts, () => stillDue(head))) queued++;
  }
  return queued;
}
