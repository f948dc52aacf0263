import type { IngestConfig } from '@renotify/config';
import { createIngestMetrics, type IngestMetrics, type Logger } from '@renotify/observability';
import { closeServiceDeps, createServiceDeps, type ServiceDeps } from '@renotify/runtime';

/** Everything the ingest's routes need; built once per process and closed on shutdown. */
export interface IngestDeps extends ServiceDeps {
  config: IngestConfig;
  logger: Logger;
  /** Prometheus metrics of this process (GET /metrics). */
  metrics: IngestMetrics;
}

export function createIngestDeps(config: IngestConfig, logger: Logger): IngestDeps {
  // Producer Redis: commands fail fast so a request answers 503 instead of hanging; Graph for opt-in requests
  // and token reconciliation.
  const service = createServiceDeps(config, logger, { applicationName: 'renotify-ingest', redisRole: 'producer', graphConnections: 16 });
  return { ...service, config, logger, metrics: createIngestMetrics() };
}

export const closeIngestDeps: (deps: IngestDeps) => Promise<void> = closeServiceDeps;
