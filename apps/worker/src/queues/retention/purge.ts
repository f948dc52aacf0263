import { setTimeout as sleep } from 'node:timers/promises';
import { RETENTION_KINDS, retentionDays, type RetentionKind, type WorkerConfig } from '@renotify/config';
import {
  purgeDeadLetters,
  purgeDeliveries,
  purgeFinishedParents,
  purgeOptInRequests,
  purgeWebhookReceipts,
  recordRetentionRun,
  storeFinalCounts,
  type Database,
  type RetentionRunResult,
} from '@renotify/db';
import type { Logger } from '@renotify/observability';

/*
 * One run of the retention job (docs/retention.md): for every kind with a retention, delete what is past it,
 * one small batch per statement with a pause in between, until a batch comes back short (caught up), the
 * worker shuts down, or the run's time budget is spent. The next run carries on where this one stopped.
 */

/** A run longer than this stops and leaves the rest to the next (hourly) run instead of overlapping it. */
export const RETENTION_RUN_BUDGET_MS = 45 * 60_000;

export interface RetentionContext {
  db: Database;
  logger: Logger;
  config: Pick<WorkerConfig, 'RETENTION_BATCH_SIZE' | 'RETENTION_BATCH_PAUSE_MS'> & Parameters<typeof retentionDays>[0];
  /** Aborted on shutdown: the current statement finishes, no new one starts. */
  signal: AbortSignal;
  budgetMs?: number;
}

interface Drained {
  rows: number;
  caughtUp: boolean;
}

/** Runs `batch` (which handles at most `batchSize` rows) until it returns fewer, pausing between batches. */
async function drain(ctx: RetentionContext, deadline: number, batch: () => Promise<number>): Promise<Drained> {
  let rows = 0;
  for (;;) {
    if (ctx.signal.aborted || Date.now() >= deadline) return { rows, caughtUp: false };
    const n = await batch();
    rows += n;
    if (n < ctx.config.RETENTION_BATCH_SIZE) return { rows, caughtUp: true };
    if (ctx.config.RETENTION_BATCH_PAUSE_MS > 0) await sleep(ctx.config.RETENTION_BATCH_PAUSE_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}

/** What one kind's purge does, given its retention in days: finalized parents, then deleted rows. */
type KindPurge = (ctx: RetentionContext, days: number, limit: number, run: (batch: () => Promise<number>) => Promise<Drained>) => Promise<{ finalized: Drained; deleted: Drained }>;

const nothing: Drained = { rows: 0, caughtUp: true };
const both = (a: Drained, b: Drained): Drained => ({ rows: a.rows + b.rows, caughtUp: a.caughtUp && b.caughtUp });

const PURGES: Record<RetentionKind, KindPurge> = {
  // Parents' counts are stored first; a delivery whose parent has none yet is not deleted.
  deliveries: async ({ db }, days, limit, run) => {
    const finalized = both(await run(() => storeFinalCounts(db, 'EVENT', days, limit)), await run(() => storeFinalCounts(db, 'CAMPAIGN_RUN', days, limit)));
    return { finalized, deleted: await run(() => purgeDeliveries(db, days, limit)) };
  },
  // An event goes once its counts are stored and none of its deliveries is left (it may have had none).
  events: async ({ db }, days, limit, run) => ({
    finalized: await run(() => storeFinalCounts(db, 'EVENT', days, limit)),
    deleted: await run(() => purgeFinishedParents(db, 'EVENT', days, limit)),
  }),
  campaignRuns: async ({ db }, days, limit, run) => ({
    finalized: await run(() => storeFinalCounts(db, 'CAMPAIGN_RUN', days, limit)),
    deleted: await run(() => purgeFinishedParents(db, 'CAMPAIGN_RUN', days, limit)),
  }),
  webhookReceipts: async ({ db }, days, limit, run) => ({ finalized: nothing, deleted: await run(() => purgeWebhookReceipts(db, days, limit)) }),
  deadLetters: async ({ db }, days, limit, run) => ({ finalized: nothing, deleted: await run(() => purgeDeadLetters(db, days, limit)) }),
  optInRequests: async ({ db }, days, limit, run) => ({ finalized: nothing, deleted: await run(() => purgeOptInRequests(db, days, limit)) }),
};

export type RetentionReport = Partial<Record<RetentionKind, RetentionRunResult>>;

/**
 * Purges every kind whose retention is not 0 (kept forever), children before parents, and records each kind's
 * result (RetentionState, read by GET /v1/retention). A failing kind is recorded with its error and the others
 * still run; the run then throws so the job shows as failed.
 */
export async function runRetention(ctx: RetentionContext): Promise<RetentionReport> {
  const days = retentionDays(ctx.config);
  const deadline = Date.now() + (ctx.budgetMs ?? RETENTION_RUN_BUDGET_MS);
  const run = (batch: () => Promise<number>) => drain(ctx, deadline, batch);
  const report: RetentionReport = {};
  const failures: string[] = [];
  for (const kind of RETENTION_KINDS) {
    if (days[kind] === 0) continue;
    const startedAt = new Date();
    let result: RetentionRunResult;
    try {
      const { finalized, deleted } = await PURGES[kind](ctx, days[kind], ctx.config.RETENTION_BATCH_SIZE, run);
      result = { startedAt, finishedAt: new Date(), deleted: deleted.rows, finalized: finalized.rows, caughtUp: finalized.caughtUp && deleted.caughtUp, error: null };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push(`${kind}: ${message}`);
      result = { startedAt, finishedAt: new Date(), deleted: 0, finalized: 0, caughtUp: false, error: message };
    }
    report[kind] = result;
    await recordRetentionRun(ctx.db, kind, result).catch((error: unknown) => ctx.logger.warn({ err: error, kind }, 'retention result could not be recorded'));
  }
  ctx.logger.info({ retention: report, stopped: ctx.signal.aborted }, 'retention run finished');
  if (failures.length > 0) throw new Error(`retention failed for ${failures.join('; ')}`);
  return report;
}
