import { loadSandboxConfig } from '@renotify/config';
import { createLogger } from '@renotify/observability';
import { buildSandbox } from './app.js';
import { DEMO_PAGE, DEMO_USER_PSID } from './state.js';

const config = loadSandboxConfig();
const logger = createLogger({ name: 'messenger-sandbox', level: config.LOG_LEVEL });
const sandbox = buildSandbox({ webhookUrl: config.SANDBOX_WEBHOOK_URL, seedDemo: config.SANDBOX_SEED_DEMO, keepMessages: config.SANDBOX_KEEP_MESSAGES, logger });

const baseUrl = await sandbox.listen(config.SANDBOX_PORT, config.SANDBOX_HOST);
logger.info({ baseUrl, webhookUrl: config.SANDBOX_WEBHOOK_URL }, 'messenger sandbox listening');
console.log(`Messenger sandbox (a local Meta Graph API) on ${baseUrl}`);
console.log(`  webhooks go to ${config.SANDBOX_WEBHOOK_URL}`);
if (config.SANDBOX_SEED_DEMO) {
  console.log(`  demo Page "${DEMO_PAGE.name}" (${DEMO_PAGE.id}), user ${DEMO_USER_PSID}`);
  console.log(`  user page: ${sandbox.userPageUrl(DEMO_PAGE.id, DEMO_USER_PSID)}`);
} else {
  console.log(`  user page: ${baseUrl}/ (create a Page and a user through ${baseUrl}/__sandbox first)`);
}

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  logger.info({ signal }, 'messenger sandbox shutting down');
  const timer = setTimeout(() => process.exit(1), 5_000);
  timer.unref();
  await sandbox.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
