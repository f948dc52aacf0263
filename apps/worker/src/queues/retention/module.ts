import { QueueName, RETENTION_JOB } from '@renotify/queue';
import { defineProcessor, type ProcessorModule } from '../../processors/define.js';
import { runRetention } from './purge.js';

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
