import type { Job } from 'bullmq';
import { campaignSchedulerRows } from '@renotify/db';
import { CampaignJobName, QueueName, reconcileCampaignSchedulers } from '@renotify/queue';
import { defineProcessor, type ProcessorModule } from '../define.js';
import { executeRun, fireOccurrence, requeueStalledRuns } from './runner.js';

// Periodic repair from the database (schedulers Redis lost, a sync that failed after a commit, runs whose job
// was lost): the catalog's `reconcile` job, from the scheduler schedulers.ts installs.
export { CAMPAIGN_RECONCILE_EVERY_MS, CAMPAIGN_RECONCILE_SCHEDULER_ID } from '@renotify/queue';

const SCHEDULER_JOB_ID = /^repeat:.+:(\d+)$/;

/**
 * The slot a scheduler job stands for. BullMQ names each iteration `repeat:<schedulerId>:<slot millis>`, so
 * the slot survives redelivery and is the same for every worker; processing time never enters the key.
 */
export function occurrenceSlot(job: Pick<Job, 'id' | 'timestamp' | 'opts'>, data: { occurrenceAt?: string | undefined }): Date {
  const fromId = job.id ? SCHEDULER_JOB_ID.exec(job.id) : null;
  if (fromId?.[1]) return new Date(Number(fromId[1]));
  if (data.occurrenceAt) return new Date(data.occurrenceAt);
  return new Date(job.timestamp + (job.opts.delay ?? 0));
}

/**
 * The `campaigns` queue: `occurrence` jobs from the campaigns' job schedulers, `run` jobs (run-now from the
 * API, and local-time runs delayed to their zone's instant), and the periodic `reconcile`. The worker's scheduler
 * guard (schedulers.ts) makes the schedulers match the ACTIVE campaigns in the database at start, and again
 * whenever it finds Redis lost them.
 */
export const campaignsModule = (): ProcessorModule & { syncsCampaignSchedulers: true } => ({
  queue: QueueName.campaigns,
  syncsCampaignSchedulers: true,
  create: (deps) =>
    defineProcessor(QueueName.campaigns, deps, {
      [CampaignJobName.reconcile]: async () => {
        const schedulers = await reconcileCampaignSchedulers(campaignSchedulerRows(deps.db), deps.queues.campaigns);
        return { schedulers, requeuedRuns: await requeueStalledRuns(deps) };
      },
      [CampaignJobName.run]: (data) => executeRun(deps, data.runId),
      [CampaignJobName.occurrence]: async (data, job) => {
        const slot = occurrenceSlot(job, data);
        const outcome = await fireOccurrence(deps, data, slot);
        deps.logger.info({ jobId: job.id, campaignId: data.campaignId, slot, ...outcome }, outcome.fired ? 'campaign occurrence fired' : 'campaign occurrence ignored');
        return outcome;
      },
    }),
});
