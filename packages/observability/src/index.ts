export { createLogger, redactUrl, REDACTED_PATHS, type Logger, type LoggerSettings } from './logger.js';
export { fingerprint } from './fingerprint.js';
export { installGracefulShutdown, type ShutdownOptions, type ShutdownStep } from './shutdown.js';
