import { ConfigError, loadWorkerConfig, type WorkerConfig } from '@renotify/config';
import { createLogger, installGracefulShutdown } from '@renotify/observability';
import { startWorker } from './server.js';

const warnings: string[] = [];
let config: WorkerConfig;
try {
  config = loadWorkerConfig(process.env, { warn: (message) => warnings.push(message) });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // No logger yet (LOG_LEVEL is part of what failed to load): plain stderr, and a non-zero exit.
  process.stderr.write(`worker: refusing to start. ${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
for (const warning of warnings) logger.warn(warning);

const worker = await startWorker(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, `worker failed to start: ${error instanceof Error ? error.message : String(error)}`);
  logger.flush();
  process.exit(1);
});
installGracefulShutdown({
  logger,
  timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  steps: [{ name: 'drain jobs and close connections', run: () => worker.close() }],
});
