import { z } from 'zod';
import { ALL_QUEUES, type QueueName } from './names.js';
import { jobCatalog } from './catalog.js';

/*
 * A job the worker could not read (unknown name, data failing its schema) becomes one DeadLetter row of kind
 * `job`, written by the worker's `deadLetter` and read back by the redrive of the admin API. Both sides use this
 * one description of the row, so what one writes the other can always read.
 */

/** DeadLetter kind of jobs that could not be read. */
export const INVALID_JOB_DEAD_LETTER = 'job';

/** What a dead-lettered job keeps: enough to queue it again as it was. */
const invalidJobPayloadSchema = z.looseObject({
  queue: z.string().optional(),
  jobId: z.string().nullish(),
  name: z.string(),
  // A job added without data is stored without the key (JSON drops undefined).
  data: z.unknown().optional(),
});

/** Rows written before the payload named its queue carry it in the reason only: "invalid <queue>/<name> job: …". */
const REASON = /^invalid ([a-z-]+)\/[^ ]+ job/;

/** The DeadLetter row of a job that could not be read, minus its id. */
export function invalidJobDeadLetter(job: { queueName: string; name: string; id?: string | undefined; data: unknown }, reason: string) {
  return {
    kind: INVALID_JOB_DEAD_LETTER,
    reason: `invalid ${job.queueName}/${job.name} job: ${reason}`,
    payload: { queue: job.queueName, jobId: job.id ?? null, name: job.name, data: job.data },
  };
}

export interface JobToRequeue {
  queue: QueueName;
  name: string;
  data: unknown;
  /** The job's original id (the catalog's deterministic ids), or `redrive_<dead letter id>` when it had none. */
  jobId: string;
}

/** The job a dead letter holds, ready to be queued again, or why it cannot be. */
export function jobOfDeadLetter(letter: { id: string; kind: string; reason: string; payload: unknown }): JobToRequeue | { skip: string } {
  if (letter.kind !== INVALID_JOB_DEAD_LETTER) return { skip: `a ${letter.kind.toUpperCase()} dead letter cannot be redriven; fix the source and send it again` };
  const payload = invalidJobPayloadSchema.safeParse(letter.payload);
  const queue = payload.success ? (payload.data.queue ?? REASON.exec(letter.reason)?.[1]) : undefined;
  if (!payload.success || !queue || !(ALL_QUEUES as readonly string[]).includes(queue)) return { skip: 'the dead letter does not name its queue and job' };
  if (!(payload.data.name in jobCatalog[queue as QueueName].jobs)) return { skip: `"${payload.data.name}" is not a job of the ${queue} queue` };
  return { queue: queue as QueueName, name: payload.data.name, data: payload.data.data, jobId: payload.data.jobId ?? `redrive_${letter.id}` };
}
