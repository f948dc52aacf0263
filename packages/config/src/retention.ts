import { z } from 'zod';

/*
 * How long finished rows are kept (docs/retention.md). Whole days; 0 keeps the kind forever. Read by the
 * worker (its `retention` job deletes) and by the ingest (GET /v1/retention reports the settings).
 */

const days = (fallback: number) => z.coerce.number().int().min(0).max(36_500).default(fallback);

/** Meta allows one opt-in request per title per 7 days, checked against OptInRequest rows: keep at least that. */
export const OPTIN_REQUEST_MIN_RETENTION_DAYS = 8;

/** The per-person cap counts SENT deliveries over a rolling window of up to 31 days (744 h): keep at least that. */
export const DELIVERY_MIN_RETENTION_DAYS = 32;

const atLeast = (minimum: number) => (value: number) => value === 0 || value >= minimum;

export const retentionFields = {
  /** Finished deliveries (SENT, FAILED, SKIPPED, DEAD), counted from when they finished. */
  RETENTION_DELIVERIES_DAYS: days(90).refine(
    atLeast(DELIVERY_MIN_RETENTION_DAYS),
    `must be 0 (keep forever) or at least ${DELIVERY_MIN_RETENTION_DAYS}: the per-person cap counts sent deliveries over up to 31 days`,
  ),
  /** Events whose deliveries are all finished (the event keeps its final counts until it goes). */
  RETENTION_EVENTS_DAYS: days(90),
  /** Finished campaign runs (the run keeps its final counts until it goes). */
  RETENTION_CAMPAIGN_RUNS_DAYS: days(90),
  /** Processed webhook bodies (unprocessed ones are kept until processed). */
  RETENTION_WEBHOOK_RECEIPTS_DAYS: days(30),
  /** Dead letters: removed once redriven, or after this many days. */
  RETENTION_DEAD_LETTERS_DAYS: days(90),
  /** Opt-in requests sent (the 7-day same-title rule reads them). */
  RETENTION_OPTIN_REQUESTS_DAYS: days(90).refine(
    atLeast(OPTIN_REQUEST_MIN_RETENTION_DAYS),
    `must be 0 (keep forever) or at least ${OPTIN_REQUEST_MIN_RETENTION_DAYS}: Meta's one-request-per-title-per-week rule reads these rows`,
  ),
  /** When the retention job runs (cron, UTC): hourly by default, off the full hour and off the token reconciliation (:17). */
  RETENTION_CRON: z.string().min(1).default('41 * * * *'),
  /** Rows per DELETE statement: small enough to keep each statement's locks and WAL burst short. */
  RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5_000),
  /** Pause between two batches, so replicas, vacuum and the hot path keep up. */
  RETENTION_BATCH_PAUSE_MS: z.coerce.number().int().min(0).max(60_000).default(100),
};

/** The retained kinds and their setting; the order is the order the job purges in (children before parents). */
export const RETENTION_KINDS = ['deliveries', 'events', 'campaignRuns', 'webhookReceipts', 'deadLetters', 'optInRequests'] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

export const RETENTION_SETTING = {
  deliveries: 'RETENTION_DELIVERIES_DAYS',
  events: 'RETENTION_EVENTS_DAYS',
  campaignRuns: 'RETENTION_CAMPAIGN_RUNS_DAYS',
  webhookReceipts: 'RETENTION_WEBHOOK_RECEIPTS_DAYS',
  deadLetters: 'RETENTION_DEAD_LETTERS_DAYS',
  optInRequests: 'RETENTION_OPTIN_REQUESTS_DAYS',
} as const satisfies Record<RetentionKind, keyof typeof retentionFields>;

type RetentionDaysConfig = { [K in RetentionKind as (typeof RETENTION_SETTING)[K]]: number };

/** Retention in days of every kind (0 = forever), from a loaded config. */
export function retentionDays(config: RetentionDaysConfig): Record<RetentionKind, number> {
  return Object.fromEntries(RETENTION_KINDS.map((kind) => [kind, config[RETENTION_SETTING[kind]]])) as Record<RetentionKind, number>;
}
