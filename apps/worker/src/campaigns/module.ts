import type { Job } from 'bullmq';
import { z } from 'zod';
import { CampaignJobName, reconcileCampaignSchedulers, recordDeadLetter } from '@renotify/db';
import { QueueName } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';
import type { ProcessorModule } from '../processors/index.js';
import { executeRun, fireOccurrence, requeueStalledRuns } from './runner.js';

/**
 * Periodic repair from the database: schedulers (Redis lost its keys, a sync failed after a commit) and runs
 * whose job was lost.
 */
export const CAMPAIGN_RECONCILE_SCHEDULER_ID = 'campaigns-reconcile';
export const CAMPAIGN_RECONCILE_JOB = 'reconcile';
export const CAMPAIGN_RECONCILE_EVERY_MS = 10 * 60_000;

const occurrenceJobSchema = z.object({
  campaignId: z.uuid(),
  schedule: z.string().min(1),
  slotMinutes: z.number().int().min(1).max(60).optional(),
  /** Only for occurrence jobs added by hand (not by a scheduler): the slot time. */
  occurrenceAt: z.iso.datetime({ offset: true }).optional(),
});
const runJobSchema = z.object({ runId: z.uuid() });

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

async function deadLetter(deps: WorkerDeps, job: Job, reason: string) {
  deps.logger.warn({ jobId: job.id, queue: job.queueName, reason }, 'invalid job dead-lettered');
  await recordDeadLetter(deps.db, 'job', `invalid ${job.queueName}/${job.name} job: ${reason}`, { jobId: job.id ?? null, name: job.name, data: job.data });
  return { invalid: true };
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
  create: async (deps) => {
    return async (job: Job) => {
      if (job.name === CAMPAIGN_RECONCILE_JOB) {
        const schedulers = await reconcileCampaignSchedulers(deps.db, deps.queues.campaigns);
        return { schedulers, requeuedRuns: await requeueStalledRuns(deps) };
      }
      if (job.name === CampaignJobName.run) {
        const parsed = runJobSchema.safeParse(job.data);
        if (!parsed.success) return deadLetter(deps, job, parsed.error.message);
        return executeRun(deps, parsed.data.runId);
      }
      if (job.name === CampaignJobName.occurrence) {
        const parsed = occurrenceJobSchema.safeParse(job.data);
        if (!parsed.success) return deadLetter(deps, job, parsed.error.message);
        const slot = occurrenceSlot(job, parsed.data);
        const outcome = await fireOccurrence(deps, parsed.data, slot);
        deps.logger.info({ jobId: job.id, campaignId: parsed.data.campaignId, slot, ...outcome }, outcome.fired ? 'campaign occurrence fired' : 'campaign occurrence ignored');
        return outcome;
      }
      return deadLetter(deps, job, `unknown job name "${job.name}"`);
    };
  },
});
