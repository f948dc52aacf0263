import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { backlogOf, SAMPLED_JOB_STATES, type BacklogSnapshot, type Logger, type SampledJobState } from '@renotify/observability';
import { ALL_QUEUES, type Queues } from '@renotify/queue';

/**
 * Redis keys of the shared backlog sample, under the queue prefix so a Redis Cluster hash tag in
 * QUEUE_PREFIX ("{renotify}") covers them too.
 */
export const backlogKeys = (prefix: string) => ({ sample: `${prefix}:metrics:backlog`, lock: `${prefix}:metrics:backlog:lock` });

const countsSchema = z.object(Object.fromEntries(SAMPLED_JOB_STATES.map((state) => [state, z.number().int().nonnegative()])) as Record<SampledJobState, z.ZodNumber>);
const snapshotSchema = z.object({ sampledAt: z.number(), queues: z.record(z.string(), countsSchema) });

/** Counts every queue now. `waiting` includes BullMQ's legacy `paused` list; prioritized jobs are not in `wait` (BullMQ ≥ 4). */
export async function countJobs(queues: Queues, now: () => number = Date.now): Promise<BacklogSnapshot> {
  const entries = await Promise.all(
    ALL_QUEUES.map(async (name) => {
      const counts = await queues[name].getJobCounts(...SAMPLED_JOB_STATES);
      const count = (state: string) => counts[state] ?? 0;
      return [name, { waiting: count('waiting') + count('paused'), prioritized: count('prioritized'), delayed: count('delayed'), active: count('active'), failed: count('failed') }] as const;
    }),
  );
  return { sampledAt: now(), queues: Object.fromEntries(entries) };
}

/** The last shared sample, or null when none is stored (or it does not parse). */
export async function readBacklogSnapshot(redis: Redis, prefix: string): Promise<BacklogSnapshot | null> {
  const raw = await redis.get(backlogKeys(prefix).sample);
  if (!raw) return null;
  try {
    const parsed = snapshotSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface BacklogSamplerOptions {
  redis: Redis;
  queues: Queues;
  prefix: string;
  intervalMs: number;
  logger: Logger;
}

/**
 * Samples queue counts for the whole fleet from ONE worker per interval: every worker ticks, but only the
 * one that wins `SET lock NX PX interval` counts and stores the result. Scrapes (/metrics, and KEDA's
 * /metrics/backlog on any pod) read the stored sample, so N pods × scrape rate never multiplies Redis work.
 */
export class BacklogSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly owner = randomUUID();
  private readonly keys: ReturnType<typeof backlogKeys>;

  constructor(private readonly options: BacklogSamplerOptions) {
    this.keys = backlogKeys(options.prefix);
  }

  start(): void {
    const run = () =>
      void this.tick().catch((error: unknown) => this.options.logger.debug({ err: error }, 'backlog sample skipped (Redis unavailable)'));
    run();
    this.timer = setInterval(run, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Samples and stores if this process wins the interval's lock; returns whether it did. */
  async tick(): Promise<boolean> {
    const { redis, intervalMs } = this.options;
    // PX slightly under the interval so the next tick of whichever worker comes first can take it again.
    const won = await redis.set(this.keys.lock, this.owner, 'PX', Math.max(100, intervalMs - 50), 'NX');
    if (won !== 'OK') return false;
    const snapshot = await countJobs(this.options.queues);
    // Expires if every worker stops sampling, so a dead fleet does not report a frozen backlog forever.
    await redis.set(this.keys.sample, JSON.stringify(snapshot), 'PX', Math.max(60_000, intervalMs * 10));
    return true;
  }

  /**
   * The shared sample; before the first one exists (fresh Redis), takes one now under the same lock, and
   * counts directly only if another worker holds the lock but has not written yet.
   */
  async read(): Promise<BacklogSnapshot> {
    const stored = await readBacklogSnapshot(this.options.redis, this.options.prefix);
    if (stored) return stored;
    await this.tick();
    return (await readBacklogSnapshot(this.options.redis, this.options.prefix)) ?? countJobs(this.options.queues);
  }
}

/** The KEDA metrics-api body: `backlog` (valueLocation) is the fleet total of jobs not yet started. */
export function backlogBody(snapshot: BacklogSnapshot, now = Date.now()) {
  const queues = Object.fromEntries(Object.entries(snapshot.queues).map(([name, counts]) => [name, backlogOf(counts)]));
  return {
    backlog: Object.values(queues).reduce((sum, n) => sum + n, 0),
    queues,
    states: snapshot.queues,
    sampledAt: new Date(snapshot.sampledAt).toISOString(),
    ageMs: Math.max(0, now - snapshot.sampledAt),
  };
}
