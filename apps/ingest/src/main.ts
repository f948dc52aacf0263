import { loadIngestConfig } from '@renotify/config';
import { createLogger, installGracefulShutdown } from '@renotify/observability';
import { startIngest } from './server.js';

const config = loadIngestConfig();
const logger = createLogger({ name: 'ingest', level: config.LOG_LEVEL });
const ingest = await startIngest(config, logger);
logger.info({ url: ingest.url }, 'ingest listening');
installGracefulShutdown({
  logger,
  timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  steps: [{ name: 'close http server, queues and connections', run: () => ingest.close() }],
});
