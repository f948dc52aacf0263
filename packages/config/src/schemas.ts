import { z } from 'zod';
import {
  DEMO_API_KEY,
  booleanFlag,
  commaList,
  encryptionKey,
  logLevel,
  port,
  positiveInt,
  postgresUrl,
  redisUrl,
  url,
} from './fields.js';
import { retentionFields } from './retention.js';

/** Defaults every process shares; each app schema extends it. */
export const commonSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: logLevel,
  DATABASE_URL: postgresUrl,
  REDIS_URL: redisUrl,
  /**
   * Batches of one high-class source queued or in flight at once (normal: half, low: a quarter; at least 1).
   * Common to ingest and worker: the worker releases fan-out batches with it, ingest releases redriven ones.
   * Batches are released progressively so one big send never fills the queue ahead of other Pages.
   */
  DISPATCH_WINDOW: positiveInt(8),
  /** BullMQ key prefix. In Redis Cluster use a hash tag, e.g. "{renotify}". */
  QUEUE_PREFIX: z.string().min(1).default('renotify'),
  /** Current AES-256-GCM key for Page secrets at rest. */
  ENCRYPTION_KEY: encryptionKey,
  /** Former keys, still accepted for decryption during a key rotation. */
  ENCRYPTION_KEYS_PREVIOUS: commaList(''),
  /** Where the Graph API lives: the local Messenger sandbox by default, https://graph.facebook.com in production. */
  GRAPH_API_BASE_URL: url('http://127.0.0.1:3100'),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  /**
   * Outbound webhook endpoints may point at loopback, private or link-local addresses (a receiver on the same
   * network, tests). Unset: allowed unless NODE_ENV=production (see webhookTargetsMayBePrivate). When not allowed,
   * such URLs are refused at create, and every connection re-checks the address DNS gave (SSRF guard).
   */
  WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: z.enum(['true', 'false', '1', '0']).optional(),
  /** Retention per kind of row, and the retention job's schedule (retention.ts, docs/retention.md). */
  ...retentionFields,
});

export const ingestSchema = commonSchema.extend({
  INGEST_HOST: z.string().default('127.0.0.1'),
  INGEST_PORT: port(3000),
  API_KEYS: commaList(DEMO_API_KEY).refine((keys) => keys.length > 0, 'needs at least one key'),
  WEBHOOK_VERIFY_TOKEN: z.string().min(1).default('renotify-verify-token'),
  /** Largest body accepted on any route (bulk event batches are the largest). */
  BODY_LIMIT_BYTES: positiveInt(5 * 1024 * 1024),
});

export const workerSchema = commonSchema.extend({
  WORKER_HOST: z.string().default('127.0.0.1'),
  /** Health and metrics listener of the worker. */
  WORKER_PORT: port(3001),
  /** Concurrent jobs per queue in one worker process. */
  WORKER_CONCURRENCY: positiveInt(8),
  /** Concurrent Send API requests inside one delivery batch. */
  SEND_CONCURRENCY: positiveInt(64),
  /** Deliveries per fan-out batch (one INSERT and one queue job each). */
  FANOUT_BATCH_SIZE: positiveInt(500),
  /**
   * /healthz fails when no job was fetched and no heartbeat recorded for this long. The heartbeat pings through
   * BullMQ's blocking connection, which answers only after its current block (≤ 10 s), so keep this above
   * 10 s + LIVENESS_STALE_MS / 4.
   */
  LIVENESS_STALE_MS: positiveInt(60_000),
  /** How often one worker (whichever wins a Redis lock) samples queue counts for /metrics and /metrics/backlog. */
  METRICS_BACKLOG_INTERVAL_MS: positiveInt(5_000),
  DELIVERY_MAX_ATTEMPTS: positiveInt(8),
  /** First retry waits up to this long (full jitter), doubling per attempt up to 5 minutes. */
  DELIVERY_RETRY_BASE_MS: positiveInt(1_000),
  /** How often one worker sweeps for work a crash left behind (stale SENDING, orphaned PENDING, unfanned events). */
  SWEEP_INTERVAL_MS: positiveInt(15_000),
  /**
   * A delivery still SENDING after this long belongs to a worker that died mid-send; it is retried under the
   * ambiguous-attempt rule. A delivery is SENDING only while its request is in flight or about to start: rows
   * are claimed in chunks of at most SEND_CONCURRENCY, at most one chunk ahead of the requests in flight,
   * and each outcome is written within 250 ms of its answer. So its age is bounded by two Graph timeouts (10 s
   * each: one for the requests ahead of it, one for its own) plus one Postgres write; the default leaves a wide
   * margin over that bound.
   */
  STALE_SENDING_MS: positiveInt(120_000),
});

export const sandboxSchema = z.object({
  LOG_LEVEL: logLevel,
  SANDBOX_HOST: z.string().default('127.0.0.1'),
  SANDBOX_PORT: port(3100),
  /** Where the sandbox, playing Meta, POSTs webhooks: Renotify's ingest. */
  SANDBOX_WEBHOOK_URL: url('http://127.0.0.1:3000/webhooks/messenger'),
  /** Seeds a demo Page and user at start-up so the user page works out of the box. */
  SANDBOX_SEED_DEMO: booleanFlag(true),
  /** false: accepted messages are counted, not kept (benchmarks of millions of sends; see the sandbox's keepMessages). */
  SANDBOX_KEEP_MESSAGES: booleanFlag(true),
});

export type CommonConfig = z.infer<typeof commonSchema>;
export type IngestConfig = z.infer<typeof ingestSchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
export type SandboxConfig = z.infer<typeof sandboxSchema>;

/** Whether outbound webhook endpoints may be non-public addresses (WEBHOOK_ENDPOINTS_ALLOW_PRIVATE, else not in production). */
export function webhookTargetsMayBePrivate(config: Pick<CommonConfig, 'NODE_ENV' | 'WEBHOOK_ENDPOINTS_ALLOW_PRIVATE'>): boolean {
  const flag = config.WEBHOOK_ENDPOINTS_ALLOW_PRIVATE;
  if (flag === undefined) return config.NODE_ENV !== 'production';
  return flag === 'true' || flag === '1';
}
