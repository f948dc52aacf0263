import { UnrecoverableError, type Job } from 'bullmq';
import { recordDeadLetter } from '@renotify/db';
import { invalidJobDeadLetter, jobCatalog, type JobContract, type JobDataOf, type JobNameOf, type QueueName } from '@renotify/queue';
import type { WorkerDeps } from '../deps.js';

/** `token` is the job's lock token, needed to move the running job (e.g. `job.moveToDelayed`). */
export type JobProcessor = (job: Job, token?: string) => Promise<unknown>;

export interface ProcessorModule {
  queue: QueueName;
  /** Jobs this processor runs at once in one process. */
  concurrency?: (deps: WorkerDeps) => number;
  create(deps: WorkerDeps): JobProcessor | Promise<JobProcessor>;
  /** Called first on shutdown, before the BullMQ worker drains: stop starting new work inside running jobs. */
  stop?(): void;
  /** Released on shutdown after the BullMQ worker has drained. */
  close?(): Promise<void>;
}

/** One handler per job name of the queue's catalog entry, given the job's data already parsed by its schema. */
export type JobHandlers<Q extends QueueName> = {
  [N in JobNameOf<Q>]: (data: JobDataOf<Q, N>, job: Job, token?: string) => Promise<unknown>;
};

/**
 * Records an unreadable job as a DeadLetter row (with its queue, id and data: a human can look at it, and the
 * admin API's redrive can queue it again, see packages/queue invalid-jobs.ts) and logs it once.
 */
export async function deadLetter(deps: WorkerDeps, job: Job, reason: string): Promise<{ invalid: true }> {
  deps.logger.warn({ jobId: job.id, queue: job.queueName, name: job.name, reason }, 'invalid job dead-lettered');
  const letter = invalidJobDeadLetter(job, reason);
  await recordDeadLetter(deps.db, letter.kind, letter.reason, letter.payload);
  return { invalid: true };
}

/**
 * The processor of one queue: looks the job's name up in the job catalog, parses its data with that job's
 * schema, and runs the handler. An unknown or invalid job is dead-lettered, then completed, or failed for good
 * where the catalog asks for it (retrying cannot make bad data good).
 */
export function defineProcessor<Q extends QueueName>(queue: Q, deps: WorkerDeps, handlers: JobHandlers<Q>): JobProcessor {
  const entry = jobCatalog[queue];
  const contracts = entry.jobs as Record<string, JobContract>;
  const run = handlers as Record<string, (data: unknown, job: Job, token?: string) => Promise<unknown>>;
  const invalid = async (job: Job, reason: string) => {
    const result = await deadLetter(deps, job, reason);
    if (entry.invalidJobs === 'fail') throw new UnrecoverableError(`invalid ${queue}/${job.name} job: ${reason}`);
    return result;
  };
  return async (job, token) => {
    const contract = Object.hasOwn(contracts, job.name) ? contracts[job.name] : undefined;
    if (!contract) return invalid(job, `unknown job name "${job.name}"`);
    const parsed = contract.schema.safeParse(job.data);
    if (!parsed.success) return invalid(job, parsed.error.message);
    return run[job.name]!(parsed.data, job, token);
  };
}
