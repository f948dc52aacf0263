import { nextCronFire, QueueName, RETENTION_JOB } from '@renotify/queue';
import { defineProcessor, type ProcessorModule } from '../define.js';
import { runRetention } from './purge.js';

/**
 * Fails the worker's start on a RETENTION_CRON that BullMQ's parser refuses or that never fires: installed as a
 * scheduler, a bad pattern would fail every scheduler check (and the probes with it) instead of one clear error.
 */
function checkRetentionCron(pattern: string): void {
  let next: Date | null;
  try {
    next = nextCronFire({ pattern, tz: 'UTC' }, new Date());
  } catch (error) {
    throw new Error(`RETENTION_CRON "${pattern}" is not a cron pattern: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (next === null) throw new Error(`RETENTION_CRON "${pattern}" never fires`);
}

/**
 * The `maintenance` queue: the `retention` job, fired by the `retention` scheduler (RETENTION_CRON, hourly by
 * default; declared in schedulers.ts). One job at a time per worker; on shutdown the running purge stops after
 * its current statement and the next run carries on.
 */
export const retentionModule = (): ProcessorModule => {
  const running = new Set<AbortController>();
  return {
    queue: QueueName.maintenance,
    concurrency: () => 1,
    create: (deps) => {
      checkRetentionCron(deps.config.RETENTION_CRON);
      const stopping = new AbortController();
      running.add(stopping);
      return defineProcessor(QueueName.maintenance, deps, {
        [RETENTION_JOB]: () => runRetention({ db: deps.db, logger: deps.logger, config: deps.config, signal: stopping.signal }),
      });
    },
    stop: () => {
      for (const controller of running) controller.abort();
      running.clear();
    },
  };
};
