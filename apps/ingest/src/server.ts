import type { FastifyInstance } from 'fastify';
import type { IngestConfig } from '@renotify/config';
import { createLogger, type Logger } from '@renotify/observability';
import { buildIngestApp } from './app.js';
import { closeIngestDeps, createIngestDeps, type IngestDeps } from './deps.js';

export interface RunningIngest {
  app: FastifyInstance;
  deps: IngestDeps;
  url: string;
  /** Stops accepting, lets in-flight requests finish, then closes queues and connections. */
  close(): Promise<void>;
}

export async function startIngest(config: IngestConfig, logger: Logger = createLogger({ name: 'ingest', level: config.LOG_LEVEL })): Promise<RunningIngest> {
  const deps = createIngestDeps(config, logger);
  const app = await buildIngestApp(deps);
  const url = await app.listen({ host: config.INGEST_HOST, port: config.INGEST_PORT });
  let closing: Promise<void> | undefined;
  return {
    app,
    deps,
    url,
    close: () => (closing ??= app.close().then(() => closeIngestDeps(deps))),
  };
}
