import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { retentionDays } from '@renotify/config';
import { readRetentionStatus } from '@renotify/db';
import { RETENTION_SCHEDULER_ID } from '@renotify/queue';
import type { IngestDeps } from '../deps.js';
import { errorResponses, timestamp } from './schemas.js';

/*
 * GET /v1/retention: what the retention job keeps and removes (docs/retention.md), table by table. Read-only
 * and cheap: row counts are the planner's estimates, the oldest row comes from an index, never a table scan.
 */

const lastRunSchema = z
  .object({
    startedAt: timestamp,
    finishedAt: timestamp,
    deleted: z.number().int().describe('Rows deleted by the last run'),
    finalized: z.number().int().describe('Events / campaign runs whose final counts the last run stored'),
    caughtUp: z.boolean().describe('False when the last run stopped early (shutdown, time budget, error); the next run continues'),
    error: z.string().nullable(),
  })
  .meta({ id: 'RetentionRun' });

const retainedTableSchema = z
  .object({
    kind: z.enum(['deliveries', 'events', 'campaignRuns', 'webhookReceipts', 'deadLetters', 'optInRequests']),
    table: z.string(),
    retentionDays: z.number().int().describe('0: kept forever'),
    estimatedRows: z.number().int().nullable().describe('pg_class.reltuples (as of the last ANALYZE); null before the first'),
    totalBytes: z.number().int().describe('Table, indexes and TOAST (pg_total_relation_size)'),
    oldestAt: timestamp.nullable().describe('Oldest row kept (deliveries: oldest finished one); null when empty'),
    oldestAgeDays: z.number().nullable(),
    lastRun: lastRunSchema.nullable().describe('Null until the retention job has run for this kind'),
  })
  .meta({ id: 'RetainedTable' });

const retentionStatusSchema = z
  .object({
    schedule: z.object({
      cron: z.string().describe('RETENTION_CRON (UTC)'),
      nextRunAt: timestamp.nullable().describe("The scheduler's next run; null when no worker installed it yet or Redis did not answer"),
    }),
    batchSize: z.number().int(),
    tables: z.array(retainedTableSchema),
  })
  .meta({ id: 'RetentionStatus' });

const DAY_MS = 86_400_000;

export async function retentionRoutes(app: FastifyInstance, { deps }: { deps: IngestDeps }): Promise<void> {
  const schema = { tags: ['retention'], summary: 'Table sizes, retention settings, and the next and last purge', response: { 200: retentionStatusSchema, ...errorResponses } };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/retention', { schema }, async () => {
    const [tables, scheduler] = await Promise.all([
      readRetentionStatus(deps.db),
      // Redis is only asked for the next run time; the rest of the answer does not depend on it.
      deps.queues.maintenance.getJobScheduler(RETENTION_SCHEDULER_ID).catch(() => undefined),
    ]);
    const days = retentionDays(deps.config);
    const now = Date.now();
    return {
      schedule: { cron: deps.config.RETENTION_CRON, nextRunAt: scheduler?.next ? new Date(scheduler.next) : null },
      batchSize: deps.config.RETENTION_BATCH_SIZE,
      tables: tables.map((table) => ({
        ...table,
        retentionDays: days[table.kind],
        oldestAgeDays: table.oldestAt ? Math.round(((now - table.oldestAt.getTime()) / DAY_MS) * 10) / 10 : null,
      })),
    };
  });
}
