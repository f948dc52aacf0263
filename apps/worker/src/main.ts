import { loadWorkerConfig } from '@renotify/config';
import { createLogger, installGracefulShutdown } from '@renotify/observability';
import { startWorker } from './server.js';

const config = loadWorkerConfig();
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
const worker = await startWorker(config, logger);
installGracefulShutdown({
  logger,
  timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  steps: [{ name: 'drain jobs and close connections', run: () => worker.close() }],
});
