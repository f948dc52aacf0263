export { createLogger, redactDatabaseText, redactRequestUrl, redactUrl, serializeError, PERSONAL_KEYS, REDACTED_PATHS, type Logger, type LoggerSettings } from './logger.js';
export { fingerprint } from './fingerprint.js';
export { redactPayload, secretCandidates, isSecretKey, REDACTED, type PayloadRedactionOptions } from './redact-payload.js';
export { installGracefulShutdown, type ShutdownOptions, type ShutdownStep } from './shutdown.js';
export {
  MetricName,
  SAMPLED_JOB_STATES,
  BACKLOG_STATES,
  backlogOf,
  createIngestMetrics,
  createWorkerMetrics,
  type BacklogSnapshot,
  type SampledJobState,
  type IngestMetrics,
  type WorkerMetrics,
  type WorkerMetricsOptions,
  type MetricsOptions,
  type DeliveryObservation,
  type SendResultLike,
  type Registry,
} from './metrics.js';
