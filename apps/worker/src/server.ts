import { Worker } from 'bullmq';
import type { WorkerConfig } from '@renotify/config';
import { createLogger, type Logger } from '@renotify/observability';
import { closeWorkerDeps, createWorkerDeps, type WorkerDeps } from './deps.js';
import { startWorkerHttp } from './http.js';
import { bullmqHeartbeatProbe, Liveness } from './liveness.js';
import { BacklogSampler } from './metrics/backlog.js';
import { metricsRoutes } from './metrics/routes.js';
import { processorModules, type JobProcessor, type ProcessorModule } from './queues/index.js';
import { declaredSchedulers, SchedulerGuard } from './schedulers.js';

export interface RunningWorker {
  deps: WorkerDeps;
  workers: Worker[];
  liveness: Liveness;
  /** Keeps the job schedulers (sweeper, reconciliations) in Redis, re-creating them if Redis lost them. */
  schedulers: SchedulerGuard;
  /** Health/metrics listener URL. */
  url: string;
  /** Stops fetching, lets in-flight jobs finish, then closes connections. */
  close(): Promise<void>;
}

/**
 * Starts the worker in an order that fails safe: connections, then the HTTP listener (a port conflict ends the
 * start here, before any job is taken), then the processors and the job schedulers, and only then the queue
 * consumers. A failure at any step closes what was opened and rejects.
 */
export async function startWorker(
  config: WorkerConfig,
  logger: Logger = createLogger({ name: 'worker', level: config.LOG_LEVEL }),
  modules: ProcessorModule[] = processorModules,
): Promise<RunningWorker> {
  const deps = createWorkerDeps(config, logger);
  const liveness = new Liveness(config.LIVENESS_STALE_MS);
  const workers: Worker[] = [];
  const schedulers = new SchedulerGuard(deps, declaredSchedulers(deps, modules), {
    everyMs: Math.max(250, Math.min(config.SWEEP_INTERVAL_MS, Math.floor(config.LIVENESS_STALE_MS / 4))),
    timeoutMs: Math.max(1_000, Math.min(5_000, Math.floor(config.LIVENESS_STALE_MS / 4))),
    staleAfterMs: config.LIVENESS_STALE_MS,
    syncCampaigns: modules.some((module) => 'syncsCampaignSchedulers' in module),
  });
  const sampler = new BacklogSampler({ redis: deps.redis, queues: deps.queues, prefix: config.QUEUE_PREFIX, intervalMs: config.METRICS_BACKLOG_INTERVAL_MS, logger });
  let consuming = false;
  const http = await startWorkerHttp(
    deps,
    { liveness, consuming: () => consuming, ...(schedulers.watching ? { schedulers: () => schedulers.status() } : {}) },
    metricsRoutes(deps.metrics, sampler, deps.redis),
  ).catch(async (error: unknown) => {
    await closeWorkerDeps(deps).catch(() => undefined);
    throw error;
  });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      liveness.stop();
      sampler.stop();
      schedulers.stop();
      for (const module of modules) module.stop?.();
      // close() stops fetching and waits for active jobs; their connections are ours to quit.
      await Promise.all(workers.map((worker) => worker.close()));
      for (const module of modules) await module.close?.();
      await new Promise((resolve) => http.server.close(resolve));
      await closeWorkerDeps(deps);
    })());

  try {
    const processors: JobProcessor[] = [];
    for (const module of modules) processors.push(await module.create(deps));
    await schedulers.start().then(
      (report) => report && logger.info(report, 'job schedulers ensured'),
      // The guard keeps trying, and the probes stay red until it succeeds; a worker that refused to start
      // would process nothing at all.
      (error: unknown) => logger.error({ err: error }, 'job schedulers could not be ensured at start; will retry'),
    );
    modules.forEach((module, index) => {
      const processor = processors[index]!;
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
    });
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  consuming = true;
  liveness.startHeartbeat(bullmqHeartbeatProbe(workers), Math.max(1_000, Math.floor(config.LIVENESS_STALE_MS / 4)));
  sampler.start();
  logger.info({ url: http.url, queues: modules.map((m) => m.queue) }, 'worker started');
  return { deps, workers, liveness, schedulers, url: http.url, close };
}
