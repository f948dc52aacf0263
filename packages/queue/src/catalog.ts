import { createHash } from 'node:crypto';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { defaultJobOptions } from './defaults.js';
import { EVENT_ID_MAX_LENGTH, eventInputSchema } from '@renotify/domain';
import { QueueName } from './names.js';

/*
 * The job catalog: every queue's job names, the zod schema of each job's data, how its id is made, and the
 * job options. Producers and the worker's processors read their contracts from here only; no job-name string
 * literal lives anywhere else (a lint-level test checks it).
 */

// ---------------------------------------------------------------------------------------------------------
// events

/** BullMQ job id for an event. Custom ids may not contain ':' (BullMQ's key separator), so the producer's id is
 * base64url-encoded; long ids are hashed to keep Redis keys short. The prefixes keep the two forms apart. */
export function eventJobId(eventId: string): string {
  const bytes = Buffer.from(eventId, 'utf8');
  if (bytes.length <= 150) return `ev_${bytes.toString('base64url')}`;
  return `evh_${createHash('sha256').update(bytes).digest('base64url')}`;
}

/**
 * `events` queue, job name `fanout`: match stored events' topics to tokens. The ingest queues ONE job per flush
 * of stored events, carrying their ids (`eventIds`, job id fanoutJobId(ids)): a BullMQ job costs far more than
 * an id. `{ eventId }` (job id eventJobId) is what the sweeper and earlier releases queue; both shapes are read,
 * so a worker of this release runs jobs an older ingest queued (upgrade workers before the ingest).
 */
export const FANOUT_JOB = 'fanout';
/** Most event ids one fanout job carries (a flush of the intake may store more: it queues several jobs). */
export const MAX_EVENTS_PER_FANOUT_JOB = 1_000;
const storedEventId = z.string().min(1).max(EVENT_ID_MAX_LENGTH);
export const fanoutJobSchema = z.union([
  z.object({ eventId: storedEventId }),
  z.object({ eventIds: z.array(storedEventId).min(1).max(MAX_EVENTS_PER_FANOUT_JOB) }),
]);
export type FanoutJob = z.infer<typeof fanoutJobSchema>;

/** The event ids of a fanout job, whichever its shape. */
export const fanoutEventIds = (job: FanoutJob): string[] => ('eventIds' in job ? job.eventIds : [job.eventId]);

/**
 * Deterministic id of a fanout job for these events: queueing the same ids again while the job waits is a no-op.
 * A single id gets eventJobId (the sweeper's id for it); several get a hash of the ids in order.
 */
export function fanoutJobId(eventIds: readonly string[]): string {
  if (eventIds.length === 1) return eventJobId(eventIds[0] as string);
  return `evs_${createHash('sha256').update(eventIds.join('\n')).digest('base64url')}`;
}

/** The fanout jobs (name, data, options) for stored events: as few as MAX_EVENTS_PER_FANOUT_JOB allows. */
export function fanoutJobsFor(eventIds: readonly string[]): Array<{ name: typeof FANOUT_JOB; data: FanoutJob; opts: { jobId: string } }> {
  const jobs: Array<{ name: typeof FANOUT_JOB; data: FanoutJob; opts: { jobId: string } }> = [];
  for (let start = 0; start < eventIds.length; start += MAX_EVENTS_PER_FANOUT_JOB) {
    const chunk = eventIds.slice(start, start + MAX_EVENTS_PER_FANOUT_JOB);
    jobs.push({ name: FANOUT_JOB, data: { eventIds: chunk }, opts: { jobId: fanoutJobId(chunk) } });
  }
  return jobs;
}

/** `events` queue, job name `publish` (jobId eventJobId(event.id)): an SDK event to store, then fan out. */
export const PUBLISH_JOB = 'publish';
export const publishJobSchema = z.object({ event: eventInputSchema });
export type PublishJob = z.infer<typeof publishJobSchema>;

// ---------------------------------------------------------------------------------------------------------
// deliveries

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

/** `deliveries` queue, job name `sweep` (a job scheduler with the same id): recover work a crash left behind. */
export const SWEEP_JOB = 'sweep';

// ---------------------------------------------------------------------------------------------------------
// webhooks

/** Job names on the `webhooks` queue: stored webhook bodies to apply, and token reconciliation runs. */
export const WebhooksJobName = {
  receipt: 'receipt',
  reconcile: 'reconcile',
} as const;
export type WebhooksJobName = (typeof WebhooksJobName)[keyof typeof WebhooksJobName];

/** Only the id travels through Redis; the body stays in Postgres (WebhookReceipt). The job id is the receipt id too. */
export const webhookReceiptJobSchema = z.object({ receiptId: z.uuid() });
export type WebhookReceiptJob = z.infer<typeof webhookReceiptJobSchema>;

/** One Page, or every live Page when `pageId` is absent (the scheduled run). */
export const reconcileJobSchema = z.object({ pageId: z.string().min(1).optional() });
export type ReconcileJob = z.infer<typeof reconcileJobSchema>;

/** Scheduler id of the periodic all-Pages token reconciliation (one per queue prefix, whatever the number of workers). */
export const RECONCILE_SCHEDULER_ID = 'reconcile-all-pages';

// ---------------------------------------------------------------------------------------------------------
// campaigns

/** Job names on the `campaigns` queue. */
export const CampaignJobName = {
  /** Fired by a campaign's job scheduler: data `CampaignOccurrenceJob`, the slot time is in the job id. */
  occurrence: 'occurrence',
  /** Fans out one CampaignRun: data `{ runId }`, job id `campaignRunJobId(runId)`. */
  run: 'run',
  /** Periodic repair from the database: schedulers and runs whose job was lost. */
  reconcile: 'reconcile',
} as const;
export type CampaignJobName = (typeof CampaignJobName)[keyof typeof CampaignJobName];

export const campaignOccurrenceJobSchema = z.object({
  campaignId: z.uuid(),
  /** The schedule the scheduler was built from: a firing of a replaced schedule is ignored. */
  schedule: z.string().min(1),
  /** Local-time campaigns: the slot the firing covers is [slot, slot + slotMinutes). */
  slotMinutes: z.number().int().min(1).max(60).optional(),
  /** Only for occurrence jobs added by hand (not by a scheduler): the slot time. */
  occurrenceAt: z.iso.datetime({ offset: true }).optional(),
});
export type CampaignOccurrenceJob = z.infer<typeof campaignOccurrenceJobSchema>;

export const campaignRunJobSchema = z.object({ runId: z.uuid() });
export type CampaignRunJob = z.infer<typeof campaignRunJobSchema>;

export const campaignSchedulerId = (campaignId: string) => `campaign-${campaignId}`;
export const campaignRunJobId = (runId: string) => `campaign-run-${runId}`;

export const CAMPAIGN_RECONCILE_SCHEDULER_ID = 'campaigns-reconcile';
export const CAMPAIGN_RECONCILE_EVERY_MS = 10 * 60_000;

// ---------------------------------------------------------------------------------------------------------
// maintenance

/** `maintenance` queue, job name `retention` (a job scheduler with the same id): delete rows past their retention. */
export const RETENTION_JOB = 'retention';
export const RETENTION_SCHEDULER_ID = 'retention';

// ---------------------------------------------------------------------------------------------------------
// outbound-webhooks

/** Job names on the `outbound-webhooks` queue. */
export const OutboundWebhooksJobName = {
  /** One attempt of one outbox message: data `{ messageId }`, job id the message id. */
  send: 'send',
  /** Fired by the relay scheduler: queues a send job per due outbox message. */
  relay: 'relay',
} as const;
export type OutboundWebhooksJobName = (typeof OutboundWebhooksJobName)[keyof typeof OutboundWebhooksJobName];

/** Only the outbox row id travels through Redis; the message, its endpoint and its retry state stay in Postgres. */
export const sendWebhookJobSchema = z.object({ messageId: z.uuid() });
export type SendWebhookJob = z.infer<typeof sendWebhookJobSchema>;

/** Scheduler id of the outbox relay (one per queue prefix, whatever the number of workers). */
export const OUTBOUND_WEBHOOKS_RELAY_SCHEDULER_ID = 'outbound-webhooks-relay';

// ---------------------------------------------------------------------------------------------------------
// The catalog

/** What is done with a job whose name is unknown or whose data fails its schema (always dead-lettered first). */
export type InvalidJobPolicy =
  /** Complete the job: the DeadLetter row is the record. */
  | 'complete'
  /** Also fail it for good (BullMQ UnrecoverableError), kept in the failed set: a receipt job that cannot be
   *  read means a webhook Meta was told we stored is not being applied, which operators must see in the queue. */
  | 'fail';

export interface JobContract<Schema extends z.ZodType = z.ZodType> {
  schema: Schema;
}

const empty = z.object({});

export const jobCatalog = {
  [QueueName.events]: {
    jobs: { [FANOUT_JOB]: { schema: fanoutJobSchema }, [PUBLISH_JOB]: { schema: publishJobSchema } },
    invalidJobs: 'complete',
  },
  [QueueName.deliveries]: {
    jobs: { [DISPATCH_JOB]: { schema: dispatchJobSchema }, [SWEEP_JOB]: { schema: empty } },
    invalidJobs: 'complete',
  },
  [QueueName.webhooks]: {
    jobs: { [WebhooksJobName.receipt]: { schema: webhookReceiptJobSchema }, [WebhooksJobName.reconcile]: { schema: reconcileJobSchema } },
    invalidJobs: 'fail',
  },
  [QueueName.campaigns]: {
    jobs: {
      [CampaignJobName.occurrence]: { schema: campaignOccurrenceJobSchema },
      [CampaignJobName.run]: { schema: campaignRunJobSchema },
      [CampaignJobName.reconcile]: { schema: empty },
    },
    invalidJobs: 'complete',
  },
  [QueueName.maintenance]: {
    jobs: { [RETENTION_JOB]: { schema: empty } },
    invalidJobs: 'complete',
  },
  [QueueName.outboundWebhooks]: {
    jobs: { [OutboundWebhooksJobName.send]: { schema: sendWebhookJobSchema }, [OutboundWebhooksJobName.relay]: { schema: empty } },
    invalidJobs: 'complete',
  },
} as const satisfies Record<QueueName, { jobs: Record<string, JobContract>; invalidJobs: InvalidJobPolicy }>;

export type JobCatalog = typeof jobCatalog;
export type JobNameOf<Q extends QueueName> = keyof JobCatalog[Q]['jobs'] & string;
export type JobDataOf<Q extends QueueName, N extends JobNameOf<Q>> = JobCatalog[Q]['jobs'][N] extends JobContract<infer S> ? z.output<S> : never;

/**
 * Job options every queue starts from: Redis holds ids, not payloads, and forgets finished jobs (see
 * defaults.ts). Per-job options (ids, priority, delay) are given where the job is added, with the id functions above.
 */
export const queueJobOptions: Record<QueueName, JobsOptions> = {
  [QueueName.events]: defaultJobOptions,
  [QueueName.deliveries]: defaultJobOptions,
  [QueueName.webhooks]: defaultJobOptions,
  [QueueName.campaigns]: defaultJobOptions,
  // Retries and their schedule live in the outbox row (Postgres); a job retries only a failure to reach Postgres.
  // Failed jobs are not kept: a kept job id would turn the relay's next add of that message into a no-op.
  [QueueName.outboundWebhooks]: { ...defaultJobOptions, attempts: 3, removeOnFail: true },
  [QueueName.maintenance]: defaultJobOptions,
};
