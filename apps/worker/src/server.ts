import { Worker } from 'bullmq';
import type { WorkerConfig } from '@renotify/config';
import { createLogger, type Logger } from '@renotify/observability';
import { closeWorkerDeps, createWorkerDeps, type WorkerDeps } from './deps.js';
import { startWorkerHttp } from './http.js';
import { bullmqHeartbeatProbe, Liveness } from './liveness.js';
import { BacklogSampler } from './metrics/backlog.js';
import { metricsRoutes } from './metrics/routes.js';
import { processorModules, type ProcessorModule } from './processors/index.js';

export interface RunningWorker {
  deps: WorkerDeps;
  workers: Worker[];
  liveness: Liveness;
  /** Health/metrics listener URL. */
  url: string;
  /** Stops fetching, lets in-flight jobs finish, then closes connections. */
  close(): Promise<void>;
}

export async function startWorker(
  config: WorkerConfig,
  logger: Logger = createLogger({ name: 'worker', level: config.LOG_LEVEL }),
  modules: ProcessorModule[] = processorModules,
): Promise<RunningWorker> {
  const deps = createWorkerDeps(config, logger);
  const liveness = new Liveness(config.LIVENESS_STALE_MS);
  const workers: Worker[] = [];
  for (const module of modules) {
    const processor = await module.create(deps);
    const worker = new Worker(
      module.queue,
      async (job, token) => {
        liveness.touch();
        return processor(job, token);
      },
      {
        // BullMQ duplicates this for its blocking connection and closes only what it created.
        connection: deps.redis,
        prefix: config.QUEUE_PREFIX,
        concurrency: module.concurrency?.(deps) ?? config.WORKER_CONCURRENCY,
        // A job whose worker died is retried twice before it fails (rollouts kill workers mid-job).
        maxStalledCount: 2,
      },
    );
    worker.on('error', (error) => logger.error({ err: error, queue: module.queue }, 'worker error'));
    worker.on('failed', (job, error) => logger.warn({ err: error, queue: module.queue, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed'));
    workers.push(worker);
  }
  liveness.startHeartbeat(bullmqHeartbeatProbe(workers), Math.max(1_000, Math.floor(config.LIVENESS_STALE_MS / 4)));
  const sampler = new BacklogSampler({ redis: deps.redis, queues: deps.queues, prefix: config.QUEUE_PREFIX, intervalMs: config.METRICS_BACKLOG_INTERVAL_MS, logger });
  sampler.start();
  const http = await startWorkerHttp(deps, liveness, metricsRoutes(deps.metrics, sampler));
  logger.info({ url: http.url, queues: modules.map((m) => m.queue) }, 'worker started');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      liveness.stop();
      sampler.stop();
      for (const module of modules) module.stop?.();
      // close() stops fetching and waits for active jobs; their connections are ours to quit.
      await Promise.all(workers.map((worker) => worker.close()));
      for (const module of modules) await module.close?.();
      await new Promise((resolve) => http.server.close(resolve));
      await closeWorkerDeps(deps);
    })());
  return { deps, workers, liveness, url: http.url, close };
}
