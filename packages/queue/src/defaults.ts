import type { DefaultJobOptions } from 'bullmq';

/**
 * Redis holds ids, not payloads, and forgets finished jobs: completed jobs are removed at once,
 * failed ones kept for a week (bounded) for inspection. Postgres is the record of what happened.
 */
export const defaultJobOptions: DefaultJobOptions = {
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
};

/** Caps the per-queue events stream so Redis memory stays flat under sustained load. */
export const EVENTS_STREAM_MAX_LEN = 1_000;
